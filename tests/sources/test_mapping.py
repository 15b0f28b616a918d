"""Mapping files: loading and validating rules, matching paths, the generic preset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rallylens._typing import SeriesKind
from rallylens.exceptions import ConfigError, ParseError
from rallylens.schemas import SeriesKey
from rallylens.sources import PRESETS, FileOptions, load_mapping, parse_file
from rallylens.sources.mapping import match_rule
from tests.conftest import NOW


def _text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _rules(tmp_path: Path, toml: str):
    return load_mapping(_text(tmp_path / "rules.toml", toml))


def _parse(path: Path, rules, **options: object):
    opts = FileOptions(**{"now": NOW, **options})  # type: ignore[arg-type]
    return parse_file(path, options=opts, rules=rules)


# --- load_mapping -------------------------------------------------------------
def test_load_mapping_reads_rules(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        """
[[file]]
match = "a/*.csv"
preset = "generic"
venue = "binance"
interval_hours = 8
ts_column = "t"
snapshot_ts = "2024-01-01T08:00:00Z"
notes = { why = "because" }
""",
    )
    (rule,) = rules
    assert rule.match == "a/*.csv"
    assert rule.preset == "generic"
    assert rule.options == {
        "venue": "binance",
        "interval_hours": 8,
        "snapshot_ts": datetime(2024, 1, 1, 8, tzinfo=UTC),
    }
    assert rule.extra == {"ts_column": "t"}
    assert rule.notes == {"why": "because"}
    assert rule.origin.endswith("rules.toml#1")


def test_unknown_key_is_named(tmp_path: Path) -> None:
    toml = '[[file]]\nmatch = "x.csv"\npreset = "generic"\nts_colum = "t"\n'
    with pytest.raises(ConfigError, match="ts_colum") as info:
        _rules(tmp_path, toml)
    assert "rule 1" in str(info.value)
    assert "x.csv" in str(info.value)


@pytest.mark.parametrize("missing", ["match", "preset"])
def test_missing_required_key(tmp_path: Path, missing: str) -> None:
    entries = {"match": '"x.csv"', "preset": '"generic"'}
    del entries[missing]
    toml = "[[file]]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items())
    with pytest.raises(ConfigError, match=f"missing '{missing}'"):
        _rules(tmp_path, toml)


def test_second_rule_is_named_in_the_error(tmp_path: Path) -> None:
    toml = (
        '[[file]]\nmatch = "a.csv"\npreset = "generic"\n'
        '[[file]]\nmatch = "b.csv"\nvenue = "binance"\n'
    )
    with pytest.raises(ConfigError, match="rule 2: missing 'preset'"):
        _rules(tmp_path, toml)


def test_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rules\.toml"):
        _rules(tmp_path, '[[file]]\nmatch = "x.csv\npreset = "generic"\n')


def test_unknown_top_level_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="files"):
        _rules(tmp_path, '[[files]]\nmatch = "x.csv"\npreset = "generic"\n')


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("interval_hours = 3", "interval_hours 3"),
        ('market = "BTC-USDT"', "BTC-USDT"),
        ('timeframe = "1 hour"', "1 hour"),
        ('kind = "candles"', "candles"),
    ],
)
def test_invalid_option_values(tmp_path: Path, line: str, needle: str) -> None:
    toml = f'[[file]]\nmatch = "x.csv"\npreset = "generic"\n{line}\n'
    with pytest.raises(ConfigError, match=needle):
        _rules(tmp_path, toml)


def test_notes_must_be_a_table(tmp_path: Path) -> None:
    toml = '[[file]]\nmatch = "x.csv"\npreset = "generic"\nnotes = "text"\n'
    with pytest.raises(ConfigError, match="notes"):
        _rules(tmp_path, toml)


def test_load_mapping_folder_reads_toml_files_in_name_order(tmp_path: Path) -> None:
    _text(tmp_path / "m" / "b.toml", '[[file]]\nmatch = "b.csv"\npreset = "generic"\n')
    _text(tmp_path / "m" / "a.toml", '[[file]]\nmatch = "a.csv"\npreset = "generic"\n')
    _text(tmp_path / "m" / "notes.txt", "not a mapping")
    rules = load_mapping(tmp_path / "m")
    assert [r.match for r in rules] == ["a.csv", "b.csv"]


# --- matching -----------------------------------------------------------------
GLOB_RULES = """
[[file]]
match = "kalyar/funding_*.csv"
preset = "generic"
venue = "binance"

[[file]]
match = "funding_*.csv"
preset = "generic"
venue = "okx"
"""


@pytest.mark.parametrize(
    ("path", "venue"),
    [
        ("/data/kalyar/funding_btc.csv", "binance"),  # first rule wins
        ("/data/other/funding_btc.csv", "okx"),
        ("/data/kalyar/sub/funding_btc.csv", "okx"),  # trailing components only
        ("/data/kalyar/funding_btc.csv.gz", None),
        ("/data/kalyar/oi_btc.csv", None),
    ],
)
def test_rule_matching_by_glob(tmp_path: Path, path: str, venue: str | None) -> None:
    rules = _rules(tmp_path, GLOB_RULES)
    rule = match_rule(rules, Path(path))
    assert (rule.options["venue"] if rule else None) == venue


# --- generic preset -----------------------------------------------------------
FUNDING_RULE = """
[[file]]
match = "funding_pct.csv"
preset = "generic"
venue = "binance"
market = "BTC/USDT:USDT"
kind = "funding"
timeframe = "settle"
ts_column = "timestamp_ms"
epoch_unit = "ms"
columns = { rate = "funding_rate_pct" }
scale = { rate = 0.01 }
constants = { interval_hours = 8 }
notes = { rate = "percent in the file" }
"""
FUNDING_LINES = (
    "timestamp_ms,funding_rate_pct\n"
    "1704067200016,0.01\n"  # 2024-01-01 00:00:00.016
    "1704096000005,-0.005\n"  # 08:00:00.005
    "1704124800000,0.0375\n"  # 16:00
)


def test_generic_epoch_scale_and_constants(tmp_path: Path) -> None:
    rules = _rules(tmp_path, FUNDING_RULE)
    path = _text(tmp_path / "funding_pct.csv", FUNDING_LINES)
    _, preset, parsed = _parse(path, rules)
    assert preset.name == "generic"
    (series,) = parsed.series
    assert series.key == SeriesKey(
        "binance", "BTC/USDT:USDT", SeriesKind.FUNDING, "settle"
    )
    assert series.notes == {"rate": "percent in the file"}
    frame = series.frame
    # percent -> decimal: 0.01 % = 0.0001
    assert frame["rate"].to_list() == pytest.approx([0.0001, -0.00005, 0.000375])
    assert frame["interval_hours"].to_list() == [8, 8, 8]
    # without ts_truncate the millisecond jitter stays
    assert frame["ts"][0] == datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
        milliseconds=16
    )


def test_generic_ts_truncate(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        FUNDING_RULE.replace(
            'epoch_unit = "ms"', 'epoch_unit = "ms"\nts_truncate = "1s"'
        ),
    )
    path = _text(tmp_path / "funding_pct.csv", FUNDING_LINES)
    (series,) = _parse(path, rules)[2].series
    assert series.frame["ts"].to_list() == [
        datetime(2024, 1, 1, h, tzinfo=UTC) for h in (0, 8, 16)
    ]


def test_generic_ts_format(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        """
[[file]]
match = "dvol.csv"
preset = "generic"
venue = "deribit"
market = "BTC"
kind = "vol_index"
timeframe = "1d"
ts_column = "day"
ts_format = "%d/%m/%Y"
columns = { close = "dvol" }
scale = { close = 0.01 }
""",
    )
    path = _text(tmp_path / "dvol.csv", "day,dvol\n01/02/2024,55.5\n02/02/2024,56\n")
    (series,) = _parse(path, rules)[2].series
    # day first: 1 and 2 February, not 2 and 3 January
    assert series.frame["ts"].to_list() == [
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2024, 2, 2, tzinfo=UTC),
    ]
    assert series.frame["close"].to_list() == pytest.approx([0.555, 0.56])
    assert series.frame["open"].null_count() == 2


def test_generic_metrics_kind_basis(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        """
[[file]]
match = "basis.csv"
preset = "generic"
venue = "binance"
market = "BTC/USDT:USDT"
kind = "basis"
timeframe = "1d"
ts_column = "datetime_utc"
metrics = { basis_usd = "basis", basis_rate = "basis_pct" }
scale = { basis_rate = 0.01 }
""",
    )
    path = _text(
        tmp_path / "basis.csv",
        "datetime_utc,basis,basis_pct\n"
        "2024-07-19T00:00:00Z,-26.55234043,-0.04\n"
        "2024-07-20T00:00:00Z,-32.9506383,-0.05\n",
    )
    (series,) = _parse(path, rules)[2].series
    assert series.key.kind is SeriesKind.BASIS
    assert series.frame.columns == ["ts", "metric", "value"]
    d19, d20 = datetime(2024, 7, 19, tzinfo=UTC), datetime(2024, 7, 20, tzinfo=UTC)
    rows = series.frame.rows()
    assert [r[:2] for r in rows] == [
        (d19, "basis_rate"),
        (d19, "basis_usd"),
        (d20, "basis_rate"),
        (d20, "basis_usd"),
    ]
    assert [r[2] for r in rows] == pytest.approx(
        [-0.0004, -26.55234043, -0.0005, -32.9506383]
    )


def test_generic_metrics_kind_needs_metrics_table(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        '[[file]]\nmatch = "basis.csv"\npreset = "generic"\nvenue = "binance"\n'
        'market = "BTC/USDT:USDT"\nkind = "basis"\ntimeframe = "1d"\n'
        'ts_column = "t"\ncolumns = { value = "basis" }\n',
    )
    path = _text(tmp_path / "basis.csv", "t,basis\n2024-07-19,-26.5\n")
    with pytest.raises(ParseError, match="metrics"):
        _parse(path, rules)


COINBASE_RULE = """
[[file]]
match = "daily/*.csv"
preset = "generic"
venue = "coinbase"
kind = "ohlcv"
timeframe = "1d"
ts_column = "date"
market_column = "symbol"

[file.columns]
open = "open"
high = "high"
low = "low"
close = "close"
volume = "volume"
"""
COINBASE_LINES = (
    "date,symbol,base,open,high,low,close,volume\n"
    "2020-01-01,BTC/USD,BTC,7165.72,7238.14,7136.05,7174.33,3350.63004888\n"
    "2020-01-01,ETH/USD,ETH,129.16,133.05,128.68,130.77,27520.4\n"
    "2020-01-02,BTC/USD,BTC,7174.33,7186.18,6903.0,6945.02,8010.92738748\n"
    "2020-01-02,ETH/USD,ETH,130.77,130.82,126.95,127.19,41010.1\n"
    "2020-01-03,BTC/USD,BTC,6945.02,7401.2,6854.67,7334.45,14056.39238489\n"
)


def test_generic_market_column_splits_the_file(tmp_path: Path) -> None:
    rules = _rules(tmp_path, COINBASE_RULE)
    path = _text(tmp_path / "daily" / "coinbase.csv", COINBASE_LINES)
    _, _, parsed = _parse(path, rules)
    by_market = {s.key.market: s for s in parsed.series}
    assert sorted(by_market) == ["BTC/USD", "ETH/USD"]
    btc, eth = by_market["BTC/USD"], by_market["ETH/USD"]
    assert btc.key == SeriesKey("coinbase", "BTC/USD", SeriesKind.OHLCV, "1d")
    assert btc.frame["close"].to_list() == [7174.33, 6945.02, 7334.45]
    assert eth.frame["close"].to_list() == [130.77, 127.19]
    assert eth.frame["ts"].to_list() == [
        datetime(2020, 1, 1, tzinfo=UTC),
        datetime(2020, 1, 2, tzinfo=UTC),
    ]
    assert eth.frame["volume"].to_list() == [27520.4, 41010.1]


def test_generic_market_column_missing(tmp_path: Path) -> None:
    rules = _rules(tmp_path, COINBASE_RULE.replace('"symbol"', '"pair"'))
    path = _text(tmp_path / "daily" / "coinbase.csv", COINBASE_LINES)
    with pytest.raises(ParseError, match="market_column 'pair'"):
        _parse(path, rules)


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ('ts_column = "date"', 'ts_column = "day"', "ts_column 'day'"),
        ('open = "open"', 'opn = "open"', "'opn' is not in the candles schema"),
        ('close = "close"', 'close = "last"', "'last' not in the file"),
    ],
)
def test_generic_column_errors(tmp_path: Path, old: str, new: str, needle: str) -> None:
    rules = _rules(tmp_path, COINBASE_RULE.replace(old, new))
    path = _text(tmp_path / "daily" / "coinbase.csv", COINBASE_LINES)
    with pytest.raises(ParseError, match=needle):
        _parse(path, rules)


def test_generic_needs_kind(tmp_path: Path) -> None:
    rules = _rules(tmp_path, COINBASE_RULE.replace('kind = "ohlcv"\n', ""))
    path = _text(tmp_path / "daily" / "coinbase.csv", COINBASE_LINES)
    with pytest.raises(ParseError, match="'kind'"):
        _parse(path, rules)


def test_command_line_options_win_over_the_rule(tmp_path: Path) -> None:
    rules = _rules(tmp_path, FUNDING_RULE)
    path = _text(tmp_path / "funding_pct.csv", FUNDING_LINES)
    _, _, parsed = _parse(path, rules, venue="okx", market="BTC/USDT:USDT")
    (series,) = parsed.series
    assert series.key.venue == "okx"
    # what the command line leaves unset still comes from the rule
    assert series.key.kind is SeriesKind.FUNDING
    assert series.frame["interval_hours"].to_list() == [8, 8, 8]
    # and an epoch unit given on the command line beats the rule's "ms"
    with pytest.raises(ParseError, match="before 2009"):
        _parse(path, rules, epoch_unit="us")


def test_forced_preset_wins_over_the_rule(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path, '[[file]]\nmatch = "*.csv"\npreset = "freqtrade"\nvenue = "okx"\n'
    )
    path = _text(
        tmp_path / "BTCUSDT-1h-2024-01.csv",
        "1704067200000,1,2,0.5,1.5,10,1704070799999,15,3,5,7.5,0\n",
    )
    _, preset, parsed = parse_file(
        path,
        preset="binance-klines",
        options=FileOptions(now=NOW, market="BTC/USDT"),
        rules=rules,
    )
    assert preset.name == "binance-klines"
    # the rule still supplies the venue the command line did not give
    assert parsed.series[0].key.venue == "okx"


def test_file_without_matching_rule_is_detected(tmp_path: Path) -> None:
    rules = _rules(tmp_path, FUNDING_RULE)
    path = _text(
        tmp_path / "binance" / "BTC_USDT-1h.csv",
        "date,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n",
    )
    _, preset, _ = _parse(path, rules)
    assert preset.name == "freqtrade"


# --- real files ---------------------------------------------------------------
def test_real_kalyar_funding_percent_to_decimal(
    shared_raw: Path, mappings_dir: Path
) -> None:
    path = shared_raw / "kalyar_eth_dashboard" / "funding_rate_btc.csv"
    _, preset, parsed = _parse(path, load_mapping(mappings_dir))
    assert preset.name == "generic"
    (series,) = parsed.series
    assert series.key == SeriesKey(
        "binance", "BTC/USDT:USDT", SeriesKind.FUNDING, "settle"
    )
    frame = series.frame
    assert frame.height == 3316  # PROVENANCE section 7
    # first line: 2022-11-03T08:00:00Z,1667462400016,0.00044 (percent per 8h)
    first = frame.row(0, named=True)
    assert first["ts"] == datetime(2022, 11, 3, 8, tzinfo=UTC)  # 16 ms truncated
    assert first["rate"] == pytest.approx(0.00044 / 100, rel=1e-12)
    assert first["interval_hours"] == 8
    assert frame["ts"].max() == datetime(2025, 11, 12, 8, tzinfo=UTC)
    # every settlement on a whole second after truncation
    assert (frame["ts"].dt.millisecond() == 0).all()


def test_shipped_exchange_rules_each_match_a_real_file(
    shared_raw: Path, mappings_dir: Path
) -> None:
    """Guards against typos in mappings/exchanges.toml (a rule matching nothing)."""
    rules = load_mapping(mappings_dir / "exchanges.toml")
    all_rules = load_mapping(mappings_dir)
    files = [p for p in shared_raw.rglob("*") if p.is_file()]
    assert rules
    for rule in rules:
        assert rule.preset in PRESETS, rule.origin
        hits = [p for p in files if rule.applies(p)]
        assert hits, f"{rule.origin}: {rule.match!r} matches no file"
        # and no earlier rule (in any shipped mapping file) shadows it
        assert any(match_rule(all_rules, p) == rule for p in hits), rule.origin


# PROVENANCE row counts per series of every file the exchange rules describe
EXPECTED_ROWS = {
    "binance_freqtrade_marketlab/spot_BTC_USDT_1h.csv": [12556],
    "binance_freqtrade_marketlab/spot_ETH_USDT_1h.csv": [12554],
    "binance_freqtrade_marketlab/spot_BTC_USDT_1d.csv": [488],
    "binance_freqtrade_marketlab/spot_ETH_USDT_1d.csv": [486],
    "binance_freqtrade_marketlab/spot_BTC_USDT_5m.csv.gz": [119784],
    "binance_freqtrade_marketlab/spot_ETH_USDT_5m.csv.gz": [119752],
    "binance_freqtrade_marketlab/perp_BTCUSDT_1h.csv": [9978],
    "binance_freqtrade_marketlab/perp_ETHUSDT_1h.csv": [9978],
    "binance_freqtrade_marketlab/perp_BTCUSDT_1d.csv": [414],
    "binance_freqtrade_marketlab/perp_ETHUSDT_1d.csv": [414],
    "binance_freqtrade_marketlab/perp_BTCUSDT_5m.csv.gz": [119724],
    "binance_freqtrade_marketlab/perp_ETHUSDT_5m.csv.gz": [119724],
    "binance_freqtrade_marketlab/funding_BTCUSDT_8h.csv": [1247],
    "binance_freqtrade_marketlab/funding_ETHUSDT_8h.csv": [1247],
    "binance_freqtrade_marketlab/mark_BTCUSDT_1h.csv": [9981],
    "binance_freqtrade_marketlab/mark_ETHUSDT_1h.csv": [9978],
    "binance_spot_1h_deeplscalp/spot_BTC_USDT_1h_2021_2025.csv.gz": [43740],
    "binance_spot_1h_deeplscalp/spot_ETH_USDT_1h_2021_2025.csv.gz": [43740],
    "binance_spot_1h_deeplscalp/spot_SOL_USDT_1h_2021_2025.csv.gz": [43740],
    "binance_perp_1d_taker_lazzmatazz/BTCUSDT-1d.csv": [2465],
    "binance_perp_1d_taker_lazzmatazz/ETHUSDT-1d.csv": [2465],
    "btcusd_daily_mathaszip/BTCUSD_1d_candles_full.csv": [5152],
    "coinbase_spot_daily_smoothbrainquant/coinbase_BTC_ETH_USD_daily_2020_2025.csv": [
        2125,
        2125,
    ],
    "kalyar_eth_dashboard/funding_rate_btc.csv": [3316],
    "kalyar_eth_dashboard/basis_spread_btc.csv": [482],
}


@pytest.mark.slow
def test_shipped_exchange_rules_parse_their_files(
    shared_raw: Path, mappings_dir: Path
) -> None:
    rules = load_mapping(mappings_dir / "exchanges.toml")
    matched = sorted(
        p.relative_to(shared_raw).as_posix()
        for p in shared_raw.rglob("*")
        if p.is_file() and match_rule(rules, p) is not None
    )
    assert matched == sorted(EXPECTED_ROWS)
    for name, rows in EXPECTED_ROWS.items():
        _, _, parsed = _parse(shared_raw / name, rules)
        got = sorted(s.frame.height for s in parsed.series)
        assert got == rows, name
        assert parsed.duplicates_dropped == 0, name
        for series in parsed.series:
            assert series.frame["ts"].is_sorted(), name
            key = series.frame.select(series.key.schema.key)
            assert not key.is_duplicated().any(), name
