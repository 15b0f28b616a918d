from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import SeriesFrame, SeriesKey
from rallylens.sources import (
    FileOptions,
    detect_preset,
    load_mapping,
    parse_file,
    read_raw,
)
from rallylens.sources._convert import Parsed

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"
COINGLASS_RAW = RAW / "coinglass_liquidity_report"
MAPPING = REPO / "mappings" / "coinglass.toml"

T0_MS = 1_731_528_000_000  # 2024-11-13 20:00 UTC
H4_MS = 4 * 3600 * 1000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(tmp_path: Path, name: str, header: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _provenance_rows(values: list[str], *, step_ms: int = H4_MS) -> list[str]:
    """Rows ``datetime_utc,time,<values>,source_snapshot`` 4 h apart."""
    rows = []
    for i, v in enumerate(values):
        ms = T0_MS + i * step_ms
        rows.append(f"{_iso(ms)},{ms},{v},20250512")
    return rows


def _parse(
    path: Path, *, preset: str | None = None, **options: object
) -> tuple[str, Parsed]:
    _, chosen, parsed = parse_file(
        path,
        preset=preset,
        options=FileOptions(**options),  # type: ignore[arg-type]
    )
    return chosen.name, parsed


def _only(parsed: Parsed) -> SeriesFrame:
    assert len(parsed.series) == 1
    return parsed.series[0]


def _metric(frame: pl.DataFrame, name: str) -> list[float]:
    return frame.filter(pl.col("metric") == name).sort("ts")["value"].to_list()


IDENT = {"venue": "binance", "market": "BTC/*:*"}
LIQ_HEADER = (
    "datetime_utc,time,aggregated_long_liquidation_usd,"
    "aggregated_short_liquidation_usd,source_snapshot"
)


# --- funding -----------------------------------------------------------------
def _funding_file(tmp_path: Path, closes: list[str]) -> Path:
    rows = _provenance_rows(
        [f"{c},{c},{c},{c}" for c in closes], step_ms=8 * H4_MS // 4
    )
    return _write(
        tmp_path,
        "funding_x_btc_8h.csv",
        "datetime_utc,time,open,high,low,close,source_snapshot",
        rows,
    )


def test_funding_percent_is_converted_to_decimal_per_interval(tmp_path: Path) -> None:
    path = _funding_file(tmp_path, ["0.01", "0.01", "0.02"])
    name, parsed = _parse(
        path,
        venue="bybit",
        market="BTC/USDT:USDT",
        kind="funding",
        rate_unit="percent",
        interval_hours=8,
    )
    series = _only(parsed)
    assert name == "coinglass"
    assert series.key == SeriesKey("bybit", "BTC/USDT:USDT", SeriesKind.FUNDING, "8h")
    first = series.frame.row(0, named=True)
    assert first["rate"] == pytest.approx(0.0001)
    assert first["rate_open"] == pytest.approx(0.0001)
    assert first["interval_hours"] == 8
    apr = first["rate"] * (24 / first["interval_hours"]) * 365
    assert apr == pytest.approx(0.1095)


def test_funding_needs_rate_unit_and_interval(tmp_path: Path) -> None:
    path = _funding_file(tmp_path, ["0.01", "0.012"])
    ident = {"venue": "bybit", "market": "BTC/USDT:USDT", "kind": "funding"}
    with pytest.raises(ParseError, match="rate-unit"):
        _parse(path, interval_hours=8, **ident)
    with pytest.raises(ParseError, match="interval"):
        _parse(path, rate_unit="percent", **ident)
    with pytest.raises(ParseError, match="percent"):
        _parse(path, rate_unit="decimal", interval_hours=8, **ident)


def test_plain_ohlc_without_kind_is_refused(tmp_path: Path) -> None:
    path = _funding_file(tmp_path, ["0.01", "0.012"])
    with pytest.raises(ParseError, match="kind"):
        _parse(path, venue="bybit", market="BTC/USDT:USDT", rate_unit="percent")


def test_bare_api_export_needs_the_preset_named(tmp_path: Path) -> None:
    rows = [f"{T0_MS + i * H4_MS},1,2,0.5,1.5" for i in range(3)]
    path = _write(tmp_path, "oi.csv", "time,open,high,low,close", rows)
    with pytest.raises(ParseError, match="not recognised"):
        detect_preset(read_raw(path))
    with pytest.raises(ParseError, match="kind"):
        _parse(path, preset="coinglass", **IDENT)
    _, parsed = _parse(
        path,
        preset="coinglass",
        kind="funding",
        rate_unit="percent",
        interval_hours=8,
        **IDENT,
    )
    assert _only(parsed).frame["rate"].to_list() == pytest.approx([0.015] * 3)


# --- open interest -----------------------------------------------------------
def _oi_file(tmp_path: Path, closes: list[float]) -> Path:
    rows = _provenance_rows([f"{c},{c},{c},{c}" for c in closes])
    return _write(
        tmp_path,
        "oi_binance_usdtm_btc_4h.csv",
        "datetime_utc,time,open,high,low,close,source_snapshot",
        rows,
    )


def test_open_interest_in_coins_labelled_usd_is_refused(tmp_path: Path) -> None:
    path = _oi_file(tmp_path, [88132.41, 86852.52, 87637.7])
    ident = {"venue": "binance", "market": "BTC/*:USDT", "kind": "open_interest"}
    with pytest.raises(ParseError, match="oi-unit base"):
        _parse(path, oi_unit="usd", **ident)
    with pytest.raises(ParseError, match="oi-unit"):
        _parse(path, **ident)
    series = _only(_parse(path, oi_unit="base", **ident)[1])
    assert series.key.timeframe == "4h"
    assert series.frame["oi_base"].to_list() == [88132.41, 86852.52, 87637.7]
    assert series.frame["oi_usd"].null_count() == 3
    assert not series.frame["oi_base_derived"].any()


def test_open_interest_in_usd_labelled_base_is_refused(tmp_path: Path) -> None:
    path = _oi_file(tmp_path, [6.4e10, 6.5e10])
    ident = {"venue": "all", "market": "BTC/*:*", "kind": "open_interest"}
    with pytest.raises(ParseError, match="look like USD"):
        _parse(path, oi_unit="base", **ident)
    series = _only(_parse(path, oi_unit="usd", **ident)[1])
    assert series.frame["oi_usd"].to_list() == [6.4e10, 6.5e10]


# --- shapes with a fixed kind ------------------------------------------------
def test_liquidations_with_ms_and_seconds_time_agree(tmp_path: Path) -> None:
    header = LIQ_HEADER
    ms = _write(tmp_path, "ms.csv", header, _provenance_rows(["10.5,2", "3,4"]))
    rows_s = [
        f"{_iso(T0_MS + i * H4_MS)},{(T0_MS + i * H4_MS) // 1000},{v},x"
        for i, v in enumerate(["10.5,2", "3,4"])
    ]
    seconds = _write(tmp_path, "s.csv", header, rows_s)
    a = _only(_parse(ms, **IDENT)[1])
    b = _only(_parse(seconds, **IDENT)[1])
    assert a.key.kind is SeriesKind.LIQUIDATIONS
    assert a.frame.equals(b.frame)
    assert a.frame["ts"][0] == datetime(2024, 11, 13, 20, tzinfo=UTC)
    assert a.frame["long_usd"].to_list() == [10.5, 3.0]


def test_iso_column_must_agree_with_time(tmp_path: Path) -> None:
    rows = _provenance_rows(["1,2", "3,4", "5,6"])
    rows[1] = rows[1].replace("T00:00", "T01:00")
    path = _write(
        tmp_path,
        "liq.csv",
        LIQ_HEADER,
        rows,
    )
    with pytest.raises(ParseError, match="line 3"):
        _parse(path, **IDENT)


@pytest.mark.parametrize(
    "columns",
    [
        "aggregated_buy_volume_usd,aggregated_sell_volume_usd",
        "taker_buy_volume_usd,taker_sell_volume_usd",
    ],
)
def test_taker_volume(tmp_path: Path, columns: str) -> None:
    path = _write(
        tmp_path,
        "taker.csv",
        f"datetime_utc,time,{columns},source_snapshot",
        _provenance_rows(["100,90", "50,60"]),
    )
    name, parsed = _parse(path, venue="binance", market="BTC/*")
    series = _only(parsed)
    assert name == "coinglass"
    assert series.key.kind is SeriesKind.TAKER_VOLUME
    assert series.frame["buy_usd"].to_list() == [100.0, 50.0]
    assert series.frame["sell_usd"].to_list() == [90.0, 60.0]


def test_coinbase_premium_in_seconds_rate_to_decimal(tmp_path: Path) -> None:
    rows = ["2017-08-17T00:00:00Z,1502928000,108.53,2.5468,x"]
    rows.append("2017-08-18T00:00:00Z,1503014400,-5.07,-0.1183,x")
    path = _write(
        tmp_path,
        "prem.csv",
        "datetime_utc,time,premium,premium_rate,source_snapshot",
        rows,
    )
    series = _only(_parse(path, venue="coinbase", market="BTC/USD")[1])
    assert series.key == SeriesKey("coinbase", "BTC/USD", SeriesKind.FLOWS, "1d")
    assert _metric(series.frame, "coinbase_premium_usd") == [108.53, -5.07]
    rates = _metric(series.frame, "coinbase_premium_rate")
    assert rates == pytest.approx([0.025468, -0.001183])


def test_margin_long_short(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "margin.csv",
        "time,long_quantity,short_quantity",
        ["1731528000,60355.22,199.06", "1731542400,60357.35,165.3"],
    )
    name, parsed = _parse(path, venue="bitfinex", market="BTC/*")
    series = _only(parsed)
    assert name == "coinglass"  # distinctive columns: detected without provenance
    assert series.key.kind is SeriesKind.POSITIONING
    assert _metric(series.frame, "margin_long_base") == [60355.22, 60357.35]
    assert _metric(series.frame, "margin_short_base") == [199.06, 165.3]


def test_long_short_percentages_become_shares(tmp_path: Path) -> None:
    header = (
        "datetime_utc,time,global_account_long_percent,"
        "global_account_short_percent,global_account_long_short_ratio,source_snapshot"
    )
    good = _write(
        tmp_path, "lsr.csv", header, _provenance_rows(["44.94,55.06,0.82", "60,40,1.5"])
    )
    series = _only(_parse(good, venue="binance", market="BTC/USDT:USDT")[1])
    assert _metric(series.frame, "global_account_long_share") == pytest.approx(
        [0.4494, 0.60]
    )
    assert _metric(series.frame, "global_account_short_share") == pytest.approx(
        [0.5506, 0.40]
    )
    assert _metric(series.frame, "global_account_long_short_ratio") == [0.82, 1.5]
    decimals = _write(
        tmp_path, "lsr2.csv", header, _provenance_rows(["0.4494,0.5506,0.82"] * 2)
    )
    with pytest.raises(ParseError, match="not percentages"):
        _parse(decimals, venue="binance", market="BTC/USDT:USDT")


def test_price_candles_store_volume_usd_as_quote_volume(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "perp.csv",
        "datetime_utc,time,open,high,low,close,volume_usd,source_snapshot",
        _provenance_rows(["27453.3,27642.6,27388.3,27576,1034165016.1319"] * 1),
    )
    series = _only(
        _parse(path, venue="binance", market="BTC/USDT:USDT", timeframe="4h")[1]
    )
    assert series.key.kind is SeriesKind.OHLCV
    row = series.frame.row(0, named=True)
    assert row["close"] == 27576.0
    assert row["quote_volume"] == 1034165016.1319
    assert row["volume"] is None


def test_kind_that_contradicts_the_columns_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "liq.csv",
        "time,aggregated_long_liquidation_usd,aggregated_short_liquidation_usd",
        [f"{T0_MS},1,2", f"{T0_MS + H4_MS},3,4"],
    )
    with pytest.raises(ParseError, match="liquidations"):
        _parse(path, kind="funding", **IDENT)


# --- ETF flows ---------------------------------------------------------------
def _etf_row(ms: int, total: float, detail: str) -> str:
    return f'{_iso(ms)},{ms},{total},"{detail}",3438.09'


def test_etf_flows_total_and_per_ticker(tmp_path: Path) -> None:
    detail = (
        '[{""etf_ticker"": ""IBIT"", ""flow_usd"": 111.0}, '
        '{""etf_ticker"": ""GBTC"", ""flow_usd"": -11.0}, '
        '{""etf_ticker"": ""BRRR"", ""flow_usd"": null}]'
    )
    rows = [_etf_row(1704931200000, 100.0, detail)]
    path = _write(
        tmp_path, "etf.csv", "datetime_utc,timestamp,flow_usd,etf_flows,price_usd", rows
    )
    name, parsed = _parse(path, venue="etf", market="BTC", timeframe="1d")
    series = _only(parsed)
    assert name == "coinglass"
    assert series.key.kind is SeriesKind.FLOWS
    values = dict(zip(series.frame["metric"], series.frame["value"], strict=True))
    assert values == {
        "etf_net_flow_usd": 100.0,
        "etf_net_flow_usd:IBIT": 111.0,
        "etf_net_flow_usd:GBTC": -11.0,
    }


def test_etf_flows_malformed_json_names_the_line(tmp_path: Path) -> None:
    rows = [
        _etf_row(1704931200000, 1.0, "[]"),
        _etf_row(1705017600000, 2.0, '[{""etf_ticker"": ""IBIT"", ""flow_usd"": 3'),
    ]
    path = _write(
        tmp_path, "etf.csv", "datetime_utc,timestamp,flow_usd,etf_flows,price_usd", rows
    )
    with pytest.raises(ParseError, match="line 3"):
        _parse(path, venue="etf", market="BTC", timeframe="1d")


# --- wide per-exchange tables ------------------------------------------------
WIDE_HEADER = (
    "datetime_utc,timestamp,price,BINANCE,CME,CRYPTO.COM,GATE,KUCOIN,source_snapshot"
)


def _wide_file(tmp_path: Path) -> Path:
    values = ["103107.0,1.1e10,1.5e10,1.2e9,,", "103731.0,1.2e10,1.6e10,1.3e9,6e9,"]
    return _write(
        tmp_path, "oi_by_exchange_btc_4h.csv", WIDE_HEADER, _provenance_rows(values)
    )


def test_wide_table_one_series_per_exchange(tmp_path: Path) -> None:
    path = _wide_file(tmp_path)
    name, parsed = _parse(path, market="BTC/*:*", kind="open_interest", oi_unit="usd")
    assert name == "coinglass"
    by_venue = {s.key.venue: s for s in parsed.series}
    assert sorted(by_venue) == ["binance", "cme", "cryptocom", "gate"]
    assert all(s.key.market == "BTC/*:*" for s in parsed.series)
    assert by_venue["cme"].frame["oi_usd"].to_list() == [1.5e10, 1.6e10]
    assert by_venue["gate"].frame.height == 1  # the empty cell is not a row
    assert any("KUCOIN" in note for note in parsed.notes)


def test_wide_table_rules(tmp_path: Path) -> None:
    path = _wide_file(tmp_path)
    with pytest.raises(ParseError, match="kind"):
        _parse(path, market="BTC/*:*")
    with pytest.raises(ParseError, match="venue"):
        _parse(
            path, venue="binance", market="BTC/*:*", kind="open_interest", oi_unit="usd"
        )
    _, parsed = _parse(
        path,
        market="BTC/*:*",
        kind="open_interest",
        oi_unit="usd",
        extra={"exchange_columns": {"GATE": "gateio", "CRYPTO.COM": ""}},
    )
    assert sorted(s.key.venue for s in parsed.series) == ["binance", "cme", "gateio"]


def test_wide_options_volume_is_a_metric(tmp_path: Path) -> None:
    rows = ["2020-06-24T00:00:00Z,1592956800000,9631.65,66139577.385,15410640.0,,x"]
    rows.append("2020-06-25T00:00:00Z,1593043200000,9298.78,83786657.19,,,x")
    path = _write(
        tmp_path,
        "options_volume_by_exchange_btc_1d.csv",
        "datetime_utc,timestamp,price,Deribit,CME,Bybit,source_snapshot",
        rows,
    )
    _, parsed = _parse(path, market="BTC/*:*", kind="options_activity")
    by_venue = {s.key.venue: s for s in parsed.series}
    assert sorted(by_venue) == ["cme", "deribit"]  # Bybit column is empty
    deribit = by_venue["deribit"]
    assert deribit.key.timeframe == "1d"
    assert _metric(deribit.frame, "options_volume_usd") == [66139577.385, 83786657.19]
    assert _metric(by_venue["cme"].frame, "options_volume_usd") == [15410640.0]


# --- malformed input, duplicates, detection ----------------------------------
def test_malformed_value_names_the_line(tmp_path: Path) -> None:
    rows = _provenance_rows(["1,2", "3,4", "5,oops"])
    path = _write(
        tmp_path,
        "liq.csv",
        LIQ_HEADER,
        rows,
    )
    with pytest.raises(
        ParseError, match=r"line 4, column 'aggregated_short_liquidation_usd'"
    ):
        _parse(path, **IDENT)


def test_duplicate_bars_are_dropped(tmp_path: Path) -> None:
    rows = _provenance_rows(["1,2", "3,4"])
    rows.append(rows[1])
    path = _write(
        tmp_path,
        "liq.csv",
        LIQ_HEADER,
        rows,
    )
    _, parsed = _parse(path, **IDENT)
    assert parsed.duplicates_dropped == 1
    assert _only(parsed).frame.height == 2


@pytest.mark.parametrize(
    "header",
    [
        "date,open,high,low,close,volume",  # freqtrade
        "unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount",
        "datetime_utc,timestamp_ms,funding_rate_pct",  # dashboard cache
        "time,time,open,high,low,close",
    ],
)
def test_other_formats_are_not_claimed(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path, "x.csv", header, [])
    from rallylens.sources.coinglass import COINGLASS

    assert not COINGLASS.detect(read_raw(path))


def test_missing_identity_names_the_option(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "liq.csv",
        "time,aggregated_long_liquidation_usd,aggregated_short_liquidation_usd",
        [f"{T0_MS},1,2", f"{T0_MS + H4_MS},3,4"],
    )
    with pytest.raises(ParseError, match="--venue"):
        _parse(path, market="BTC/*:*")


# --- known values in the real files ------------------------------------------
def _real(name: str) -> Path:
    if not COINGLASS_RAW.is_dir():
        pytest.skip(f"real data not present at {COINGLASS_RAW}")
    return COINGLASS_RAW / name


def _real_series(name: str) -> SeriesFrame:
    _, _, parsed = parse_file(_real(name), rules=load_mapping(MAPPING))
    return _only(parsed)


def _at(series: SeriesFrame, when: datetime) -> dict[str, object]:
    return series.frame.filter(pl.col("ts") == when).row(0, named=True)


def test_real_binance_funding_first_day() -> None:
    series = _real_series("funding_binance_btcusdt_1d.csv")
    assert series.key == SeriesKey("binance", "BTC/USDT:USDT", SeriesKind.FUNDING, "1d")
    row = _at(series, datetime(2020, 3, 30, tzinfo=UTC))
    assert row["rate"] == pytest.approx(-3.819e-05)
    assert row["rate_open"] == pytest.approx(-3.8971e-04)
    assert row["interval_hours"] == 8
    assert series.frame.height == 1869


def test_real_binance_liquidations() -> None:
    series = _real_series("liquidation_binance_btc_1d.csv")
    row = _at(series, datetime(2020, 12, 23, tzinfo=UTC))
    assert row["long_usd"] == pytest.approx(30625438.20254)
    assert row["short_usd"] == pytest.approx(24042210.60383)
    assert "LOWER BOUND" in series.notes["caveat"]


def test_real_usdtm_open_interest_is_in_coins() -> None:
    series = _real_series("oi_binance_usdtm_btc_4h.csv")
    assert series.key.market == "BTC/*:USDT"
    row = _at(series, datetime(2024, 11, 13, 20, tzinfo=UTC))
    assert row["oi_base"] == pytest.approx(86852.52)
    assert row["oi_usd"] is None
    with pytest.raises(ParseError, match="look like coins"):
        parse_file(
            _real("oi_binance_usdtm_btc_4h.csv"),
            preset="coinglass",
            options=FileOptions(
                venue="binance",
                market="BTC/*:USDT",
                kind=SeriesKind.OPEN_INTEREST,
                oi_unit="usd",
            ),
        )


@pytest.mark.slow
def test_every_real_file_imports_with_the_mapping() -> None:
    if not COINGLASS_RAW.is_dir():
        pytest.skip(f"real data not present at {COINGLASS_RAW}")
    rules = load_mapping(MAPPING)
    files = sorted(COINGLASS_RAW.glob("*.csv"))
    assert len(files) == 49
    for path in files:
        _, preset, parsed = parse_file(path, rules=rules)
        assert preset.name == "coinglass", path.name
        data_rows = len(path.read_text().splitlines()) - 1
        heights = [s.frame["ts"].n_unique() for s in parsed.series]
        assert max(heights) == data_rows, path.name
