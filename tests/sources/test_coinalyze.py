from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import SeriesFrame, SeriesKey
from rallylens.sources import FileOptions, load_mapping, parse_file, read_raw
from rallylens.sources._convert import Parsed
from rallylens.sources.coinalyze import COINALYZE

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"
COINALYZE_FILE = (
    RAW
    / "coinalyze_oi_smoothbrainquant"
    / "coinalyze_oi_daily_BTCUSD_ETHUSD_PERP_binance_coinm.csv"
)
MAPPING = REPO / "mappings" / "coinglass.toml"

OI_HEADER = (
    "rank,coin_name,coin_symbol,symbol,date,timestamp,oi_open,oi_high,oi_low,oi_close"
)
FUNDING_HEADER = (
    "rank,coin_name,coin_symbol,symbol,date,timestamp,"
    "funding_rate,funding_rate_pct,fr_open,fr_high,fr_low"
)
DAY0 = 1_631_664_000  # 2021-09-15 00:00 UTC, seconds


def _day(i: int) -> tuple[str, int]:
    ts = DAY0 + i * 86400
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d"), ts


def _oi_rows(symbol: str, closes: list[str], *, base: str = "BTC") -> list[str]:
    rows = []
    for i, close in enumerate(closes):
        date, ts = _day(i)
        rows.append(f"1,Coin,{base},{symbol},{date},{ts},1.0,2.0,0.5,{close}")
    return rows


def _write(tmp_path: Path, header: str, rows: list[str]) -> Path:
    path = tmp_path / "coinalyze.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _parse(path: Path, **options: object) -> Parsed:
    _, preset, parsed = parse_file(
        path,
        options=FileOptions(**options),  # type: ignore[arg-type]
    )
    assert preset.name == "coinalyze"
    return parsed


def _by_market(parsed: Parsed) -> dict[str, SeriesFrame]:
    return {s.key.market: s for s in parsed.series}


def test_one_series_per_symbol_with_venue_and_market_decoded(tmp_path: Path) -> None:
    rows = _oi_rows("BTCUSD_PERP.A", ["718741000.0", "725902800.0"])
    rows += _oi_rows("BTCUSDT_PERP.A", ["9.1e9", "9.2e9"])
    rows += _oi_rows("ETHUSDT_PERP.6", ["2.0e9", "2.1e9"], base="ETH")
    parsed = _parse(_write(tmp_path, OI_HEADER, rows))
    keys = sorted(s.key for s in parsed.series)
    assert keys == sorted(
        [
            SeriesKey("binance", "BTC/USD:BTC", SeriesKind.OPEN_INTEREST, "1d"),
            SeriesKey("binance", "BTC/USDT:USDT", SeriesKind.OPEN_INTEREST, "1d"),
            SeriesKey("bybit", "ETH/USDT:USDT", SeriesKind.OPEN_INTEREST, "1d"),
        ]
    )
    inverse = _by_market(parsed)["BTC/USD:BTC"].frame
    assert inverse["oi_usd"].to_list() == [718741000.0, 725902800.0]
    assert inverse["oi_base"].null_count() == 2
    assert inverse["ts"][0] == datetime(2021, 9, 15, tzinfo=UTC)


def test_unknown_exchange_code_needs_venue(tmp_path: Path) -> None:
    path = _write(tmp_path, OI_HEADER, _oi_rows("BTCUSDT_PERP.Q", ["1e9", "1.1e9"]))
    with pytest.raises(ParseError, match=r"BTCUSDT_PERP\.Q.*--venue"):
        _parse(path)
    series = _parse(path, venue="someexchange").series[0]
    assert series.key.venue == "someexchange"
    assert series.key.market == "BTC/USDT:USDT"


def test_symbol_without_perp_suffix_needs_a_market(tmp_path: Path) -> None:
    path = _write(tmp_path, OI_HEADER, _oi_rows("BTCUSDT.6", ["1e9", "1.1e9"]))
    with pytest.raises(ParseError, match="symbol_map"):
        _parse(path)
    parsed = _parse(path, extra={"symbol_map": {"BTCUSDT.6": "BTC/USDT:USDT"}})
    assert parsed.series[0].key.venue == "bybit"
    single = _parse(path, market="BTC/USDT:USDT")
    assert single.series[0].key.market == "BTC/USDT:USDT"


def test_one_market_for_several_symbols_is_refused(tmp_path: Path) -> None:
    rows = _oi_rows("BTCUSD_PERP.A", ["1e9"]) + _oi_rows("ETHUSD_PERP.A", ["1e9"])
    with pytest.raises(ParseError, match="symbol_map"):
        _parse(_write(tmp_path, OI_HEADER, rows), market="BTC/USD:BTC")


def test_oi_unit_base_override(tmp_path: Path) -> None:
    path = _write(tmp_path, OI_HEADER, _oi_rows("BTCUSD_PERP.A", ["12000", "12500"]))
    frame = _parse(path, oi_unit="base").series[0].frame
    assert frame["oi_base"].to_list() == [12000.0, 12500.0]
    assert frame["oi_usd"].null_count() == 2


def test_date_must_match_the_seconds_timestamp(tmp_path: Path) -> None:
    rows = _oi_rows("BTCUSD_PERP.A", ["1e9", "1.1e9", "1.2e9"])
    rows[2] = rows[2].replace("2021-09-17", "2021-09-18")
    with pytest.raises(ParseError, match="line 4"):
        _parse(_write(tmp_path, OI_HEADER, rows))


def test_malformed_value_names_the_line(tmp_path: Path) -> None:
    rows = _oi_rows("BTCUSD_PERP.A", ["1e9", "n/a?", "1.2e9"])
    with pytest.raises(ParseError, match=r"line 3, column 'oi_close'"):
        _parse(_write(tmp_path, OI_HEADER, rows))


def test_duplicates_are_dropped(tmp_path: Path) -> None:
    rows = _oi_rows("BTCUSD_PERP.A", ["1e9", "1.1e9"])
    rows.append(rows[0])
    parsed = _parse(_write(tmp_path, OI_HEADER, rows))
    assert parsed.duplicates_dropped == 1
    assert parsed.series[0].frame.height == 2


def test_funding_export_percent_to_decimal(tmp_path: Path) -> None:
    rows = []
    for i, rate in enumerate(["0.01", "0.002154"]):
        date, ts = _day(i)
        pct = float(rate) * 100
        rows.append(
            f"1,Bitcoin,BTC,BTCUSD_PERP.A,{date},{ts},{rate},{pct},{rate},{rate},{rate}"
        )
    path = _write(tmp_path, FUNDING_HEADER, rows)
    with pytest.raises(ParseError, match="rate-unit percent"):
        _parse(path)
    series = _parse(path, rate_unit="percent", interval_hours=8).series[0]
    assert series.key == SeriesKey("binance", "BTC/USD:BTC", SeriesKind.FUNDING, "1d")
    first = series.frame.row(0, named=True)
    assert first["rate"] == pytest.approx(0.0001)
    assert first["rate"] * (24 / first["interval_hours"]) * 365 == pytest.approx(0.1095)
    assert series.frame["rate_low"][1] == pytest.approx(2.154e-05)


@pytest.mark.parametrize(
    "header",
    [
        "date,open,high,low,close,volume",
        "unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount",
        "symbol,timestamp,oi_open,oi_high,oi_low,oi_close,extra",
        "datetime_utc,time,open,high,low,close,source_snapshot",
    ],
)
def test_other_formats_are_not_claimed(tmp_path: Path, header: str) -> None:
    assert not COINALYZE.detect(read_raw(_write(tmp_path, header, [])))


def test_real_coinalyze_known_value() -> None:
    if not COINALYZE_FILE.is_file():
        pytest.skip(f"real data not present at {COINALYZE_FILE}")
    _, preset, parsed = parse_file(COINALYZE_FILE, rules=load_mapping(MAPPING))
    assert preset.name == "coinalyze"
    series = _by_market(parsed)
    assert sorted(series) == ["BTC/USD:BTC", "ETH/USD:ETH"]
    btc = series["BTC/USD:BTC"]
    assert btc.key == SeriesKey(
        "binance", "BTC/USD:BTC", SeriesKind.OPEN_INTEREST, "1d"
    )
    row = btc.frame.filter(pl.col("ts") == datetime(2021, 9, 15, tzinfo=UTC)).row(
        0, named=True
    )
    assert row["oi_usd"] == 718741000.0
    assert all(s.frame.height == 1503 for s in parsed.series)
