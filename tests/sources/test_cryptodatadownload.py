"""CryptoDataDownload preset: banner, newest-first rows, two export generations."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import SeriesKey
from rallylens.sources import FileOptions, parse_file
from tests.conftest import NOW

BANNER = "https://www.CryptoDataDownload.com"
HEADER = "unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount"
# 2020-08-01 00:00 UTC = 18,475 days after the epoch = 1,596,240,000 s
T = 1_596_240_000

LINES = [
    BANNER,
    HEADER,
    # newer export generation: ms timestamps, tradecount present
    f"{(T + 7200) * 1000},2020-08-01 02:00:00,BTC/USDT,11400.00000000,"
    "11420.50000000,11380.00000000,11410.10000000,1500.12345600,17115000.12,20001",
    f"{(T + 3600) * 1000},2020-08-01 01:00:00,BTC/USDT,11335.46000000,"
    "11410.00000000,11320.00000000,11400.00000000,1802.75310400,20500100.55,23456",
    # older generation (float seconds, AM/PM dates) repeating 01:00, values rounded
    f"{T + 3600}.0,2020-08-01 01-AM,BTC/USDT,11335.46,11410,11320,11400,1802.75,"
    "20500100.55,NULL",
    # 00:00 appears in the old generation first and in the new one after it
    f"{T}.0,2020-08-01 12-AM,BTC/USDT,11335.46,11389,11220,11248.35,3192.17,"
    "36049804.85,NULL",
    f"{T * 1000},2020-08-01 00:00:00,BTC/USDT,11335.46000000,11389.00000000,"
    "11220.00000000,11248.35000000,3192.17012300,36049804.85313900,44100",
    # only in the old generation
    f"{T - 3600}.0,2020-07-31 11-PM,BTC/USDT,11302.56,11340,11279.44,11335.46,"
    "1850.36,20937663.83,NULL",
]


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _parse(path: Path, **options: object):
    opts = FileOptions(**{"now": NOW, **options})  # type: ignore[arg-type]
    _, preset, parsed = parse_file(path, options=opts)
    assert preset.name == "cryptodatadownload"
    return parsed


def test_generated_file_with_banner_and_two_generations(tmp_path: Path) -> None:
    parsed = _parse(_write(tmp_path / "Binance_BTCUSDT_1h.csv", LINES))
    (series,) = parsed.series
    assert series.key == SeriesKey("binance", "BTC/USDT", SeriesKind.OHLCV, "1h")
    frame = series.frame
    # sorted oldest first, one row per hour
    assert frame["ts"].to_list() == [
        datetime(2020, 7, 31, 23, tzinfo=UTC),
        datetime(2020, 8, 1, 0, tzinfo=UTC),
        datetime(2020, 8, 1, 1, tzinfo=UTC),
        datetime(2020, 8, 1, 2, tzinfo=UTC),
    ]
    assert parsed.duplicates_dropped == 2
    # the duplicated hours keep the new-generation row (it has a tradecount),
    # whether it came before (01:00) or after (00:00) the old row in the file
    assert frame["trades"].to_list() == [None, 44100, 23456, 20001]
    assert frame["volume"].to_list() == [1850.36, 3192.170123, 1802.753104, 1500.123456]
    # Volume USDT is the quote volume
    assert frame["quote_volume"].to_list() == [
        20937663.83,
        36049804.853139,
        20500100.55,
        17115000.12,
    ]
    assert frame["open"].to_list() == [11302.56, 11335.46, 11335.46, 11400.0]
    assert frame["close"].to_list() == [11335.46, 11248.35, 11400.0, 11410.1]


def test_file_without_banner(tmp_path: Path) -> None:
    parsed = _parse(_write(tmp_path / "Binance_BTCUSDT_1h.csv", LINES[1:]))
    assert parsed.series[0].frame.height == 4


def test_seconds_era_hours_read_from_am_pm_rows(tmp_path: Path) -> None:
    # 12-AM is midnight and 11-PM is 23:00 (the unix column decides the time)
    parsed = _parse(_write(tmp_path / "Binance_BTCUSDT_1h.csv", [HEADER, *LINES[-3:]]))
    frame = parsed.series[0].frame
    assert frame["ts"].to_list() == [
        datetime(2020, 7, 31, 23, tzinfo=UTC),
        datetime(2020, 8, 1, 0, tzinfo=UTC),
    ]


def test_tie_between_duplicates_keeps_the_first_row_in_the_file(tmp_path: Path) -> None:
    lines = [
        HEADER,
        f"{T * 1000},2020-08-01 00:00:00,BTC/USDT,1,3,1,2,10,20,5",
        f"{T * 1000},2020-08-01 00:00:00,BTC/USDT,1,3,1,2.5,10,20,5",
    ]
    parsed = _parse(_write(tmp_path / "Binance_BTCUSDT_1h.csv", lines))
    assert parsed.duplicates_dropped == 1
    assert parsed.series[0].frame["close"].to_list() == [2.0]


def test_mixed_symbols_are_refused(tmp_path: Path) -> None:
    lines = [
        *LINES[:3],
        f"{(T + 3600) * 1000},2020-08-01 01:00:00,ETH/USDT,380,381,379,380.5,10,3805,9",
    ]
    with pytest.raises(ParseError, match="mixed symbols") as info:
        _parse(_write(tmp_path / "Binance_BTCUSDT_1h.csv", lines))
    assert "ETH/USDT" in str(info.value)


@pytest.mark.parametrize(
    ("name", "venue", "timeframe"),
    [
        ("Binance_BTCUSDT_d.csv", "binance", "1d"),
        ("Bitstamp_BTCUSDT_1h.csv", "bitstamp", "1h"),
        ("Binance_BTCUSDT_minute.csv", "binance", "1m"),
    ],
)
def test_venue_and_timeframe_from_name(
    tmp_path: Path, name: str, venue: str, timeframe: str
) -> None:
    parsed = _parse(_write(tmp_path / name, LINES[:3]))
    assert parsed.series[0].key.venue == venue
    assert parsed.series[0].key.timeframe == timeframe


def test_unknown_name_needs_venue_and_timeframe(tmp_path: Path) -> None:
    path = _write(tmp_path / "btc_hourly.csv", LINES[:3])
    with pytest.raises(ParseError, match="--venue") as info:
        _parse(path)
    assert "--timeframe" in str(info.value)
    parsed = _parse(path, venue="binance", timeframe="1h")
    assert parsed.series[0].key.market == "BTC/USDT"


def test_symbol_without_slash_needs_market(tmp_path: Path) -> None:
    lines = [
        HEADER,
        f"{T * 1000},2020-08-01 00:00:00,BTCUSDT,11335.46,11389,11220,11248.35,"
        "3192.17,36049804.85,44100",
    ]
    path = _write(tmp_path / "Binance_BTCUSDT_1h.csv", lines)
    with pytest.raises(ParseError, match="--market"):
        _parse(path)
    (series,) = _parse(path, market="BTC/USDT").series
    assert series.frame["volume"].to_list() == [3192.17]
    assert series.frame["quote_volume"].to_list() == [36049804.85]


# --- real file ----------------------------------------------------------------
def test_real_cdd_binance_btcusdt_1h(shared_raw: Path) -> None:
    path = shared_raw / "cdd_binance_spot_2017_2021" / "Binance_BTCUSDT_1h.csv.gz"
    parsed = _parse(path)
    (series,) = parsed.series
    assert series.key == SeriesKey("binance", "BTC/USDT", SeriesKind.OHLCV, "1h")
    frame = series.frame
    # PROVENANCE section 4: 36,062 rows of which 2,649 duplicated hours
    assert frame.height == 33413
    assert parsed.duplicates_dropped == 2649
    assert frame["ts"].min() == datetime(2017, 8, 17, 4, tzinfo=UTC)
    assert frame["ts"].max() == datetime(2021, 6, 10, 0, tzinfo=UTC)
    assert frame["ts"].is_unique().all()

    # a seconds-era hour, as written in the raw file:
    # 1502949600.0,2017-08-17 06-AM,BTC/USDT,4315.32,4345.45,4309.37,4324.35,7.23,
    # 31282.31,NULL
    text = gzip.decompress(path.read_bytes()).decode()
    (line,) = [x for x in text.splitlines() if x.startswith("1502949600.0,")]
    fields = line.split(",")
    assert fields[1] == "2017-08-17 06-AM"
    row = frame.filter(pl.col("ts") == datetime(2017, 8, 17, 6, tzinfo=UTC))
    assert row["open"].to_list() == [float(fields[3])] == [4315.32]
    assert row["close"].to_list() == [float(fields[6])] == [4324.35]
    assert row["volume"].to_list() == [float(fields[7])] == [7.23]
    assert row["quote_volume"].to_list() == [31282.31]
    assert row["trades"].to_list() == [None]

    # a duplicated hour (raw lines 5651-5652): the ms row with tradecount wins
    # 1604379600000,2020-11-03 05:00:00,...,13372.30000000,2333.41705100,...,33033
    # 1604379600.0,2020-11-03 05-AM,...,13372.3,2333.42,31305185.84,NULL
    dup = frame.filter(pl.col("ts") == datetime(2020, 11, 3, 5, tzinfo=UTC))
    assert dup["trades"].to_list() == [33033]
    assert dup["volume"].to_list() == [2333.417051]
