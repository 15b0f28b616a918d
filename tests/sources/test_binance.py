"""Binance presets: kline CSVs (12 and 8 columns), fundingRate and metrics files.

Expected values are read from the generated file text or worked out by hand
(epoch milliseconds of 2024-01-01 00:00 UTC: 19,723 days x 86,400,000).
"""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import CANDLES, SeriesKey
from rallylens.sources import FileOptions, load_mapping, parse_file
from tests.conftest import NOW

T0_MS = 1_704_067_200_000  # 2024-01-01 00:00:00 UTC
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
# two hourly bars as Binance publishes them (open_time ... ignore)
KLINE_ROWS = [
    "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108,1704070799999,"
    "53957248.973789,47134,682.57581,28957416.819645,0",
    "1704070800000,42475.23,42775.00,42431.65,42613.56,1196.37856,1704074399999,"
    "50984893.462018,43343,616.90863,26290186.158931,0",
]
FIRST_BAR = {
    "ts": datetime(2024, 1, 1, 0, tzinfo=UTC),
    "open": 42283.58,
    "high": 42554.57,
    "low": 42261.02,
    "close": 42475.23,
    "volume": 1271.68108,
    "quote_volume": 53957248.973789,
    "trades": 47134,
    "taker_buy_base": 682.57581,
    "taker_buy_quote": 28957416.819645,
}
SECOND_BAR = {
    "ts": datetime(2024, 1, 1, 1, tzinfo=UTC),
    "open": 42475.23,
    "high": 42775.00,
    "low": 42431.65,
    "close": 42613.56,
    "volume": 1196.37856,
    "quote_volume": 50984893.462018,
    "trades": 43343,
    "taker_buy_base": 616.90863,
    "taker_buy_quote": 26290186.158931,
}


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _kline(open_ms: int, step_ms: int, o: float, h: float, lo: float, c: float) -> str:
    """A 12-column kline row; the other fields are fixed, plausible numbers."""
    return (
        f"{open_ms},{o},{h},{lo},{c},10.5,{open_ms + step_ms - 1},"
        f"{10.5 * c},100,5.25,{5.25 * c},0"
    )


def _hourly(n: int, start_ms: int = T0_MS) -> list[str]:
    return [
        _kline(start_ms + i * HOUR_MS, HOUR_MS, 100 + i, 101 + i, 99 + i, 100.5 + i)
        for i in range(n)
    ]


def _um(tmp_path: Path, name: str) -> Path:
    folder = "data/futures/um/monthly/klines/BTCUSDT/1h"
    return tmp_path / folder / name


def _spot(tmp_path: Path, name: str) -> Path:
    return tmp_path / "data/spot/monthly/klines/BTCUSDT/1h" / name


def _only_series(path: Path, **options: object):
    opts = FileOptions(**{"now": NOW, **options})  # type: ignore[arg-type]
    _, preset, parsed = parse_file(path, options=opts)
    assert len(parsed.series) == 1
    return preset, parsed, parsed.series[0]


# --- klines -----------------------------------------------------------------
def test_headerless_12_column_klines(tmp_path: Path) -> None:
    path = _write(_um(tmp_path, "BTCUSDT-1h-2024-01.csv"), KLINE_ROWS)
    preset, parsed, series = _only_series(path)
    assert preset.name == "binance-klines"
    assert series.key == SeriesKey("binance", "BTC/USDT:USDT", SeriesKind.OHLCV, "1h")
    assert series.frame.schema == pl.Schema(CANDLES.columns)
    assert series.frame.to_dicts() == [FIRST_BAR, SECOND_BAR]
    assert parsed.duplicates_dropped == 0


def test_12_column_klines_with_header(tmp_path: Path) -> None:
    path = _write(
        _spot(tmp_path, "BTCUSDT-1h-2024-01.csv"), [KLINE_HEADER, *KLINE_ROWS]
    )
    preset, _, series = _only_series(path)
    assert preset.name == "binance-klines"
    assert series.key == SeriesKey("binance", "BTC/USDT", SeriesKind.OHLCV, "1h")
    assert series.frame.to_dicts() == [FIRST_BAR, SECOND_BAR]


def test_microsecond_timestamps_of_2025_spot_files(tmp_path: Path) -> None:
    # 2025-01-01 00:00 UTC = (19,723 + 366) days after the epoch
    t_us = 20_089 * 86_400 * 1_000_000
    rows = [
        f"{t_us},93576.00,94509.42,93489.03,94401.14,1108.28,{t_us + 3_599_999_999},"
        "104285412.51,203453,557.59,52467413.13,0",
        f"{t_us + 3_600_000_000},94401.13,94622.00,94250.00,94545.06,864.01,"
        f"{t_us + 7_199_999_999},81610384.29,158112,410.11,38734211.94,0",
    ]
    path = _write(_spot(tmp_path, "BTCUSDT-1h-2025-01.csv"), rows)
    _, _, series = _only_series(path)
    assert series.frame["ts"].to_list() == [
        datetime(2025, 1, 1, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 1, tzinfo=UTC),
    ]
    assert series.frame["open"].to_list() == [93576.00, 94401.13]
    assert series.frame["trades"].to_list() == [203453, 158112]


def test_millisecond_and_microsecond_rows_in_one_file(tmp_path: Path) -> None:
    # the last hour of 2024 in ms, the first of 2025 in us (a concatenated export)
    last_2024_ms = 20_089 * DAY_MS - HOUR_MS
    first_2025_us = 20_089 * 86_400 * 1_000_000
    rows = [
        _kline(last_2024_ms, HOUR_MS, 100, 101, 99, 100.5),
        f"{first_2025_us},100.5,102,100,101,10.5,{first_2025_us + 3_599_999_999},"
        "1060.5,100,5.25,530.25,0",
    ]
    path = _write(_spot(tmp_path, "BTCUSDT-1h-concat.csv"), rows)
    _, _, series = _only_series(path)
    assert series.frame["ts"].to_list() == [
        datetime(2024, 12, 31, 23, tzinfo=UTC),
        datetime(2025, 1, 1, 0, tzinfo=UTC),
    ]
    assert series.key.timeframe == "1h"


def test_eight_column_taker_variant(tmp_path: Path) -> None:
    lines = [
        "open_time,open,high,low,close,volume,taker_buy_base,taker_buy_quote",
        "1704067200000,42314.00,44266.00,42180.00,44230.20,344594.141,171524.367,"
        "7484632548.44590",
        "1704153600000,44230.30,45950.00,44200.00,45008.00,591063.220,292887.133,"
        "13228017474.64210",
        "1704240000000,45008.00,45550.00,40333.00,42874.00,807063.404,385432.217,"
        "16765227081.16500",
    ]
    # no timeframe in the name and no close_time: the spacing says 1d
    path = _write(tmp_path / "btc_perp_daily_taker.csv", lines)
    preset, _, series = _only_series(path, market="BTC/USDT:USDT")
    assert preset.name == "binance-klines"
    assert series.key == SeriesKey("binance", "BTC/USDT:USDT", SeriesKind.OHLCV, "1d")
    frame = series.frame
    assert frame["ts"].to_list() == [
        datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3)
    ]
    assert frame["volume"].to_list() == [344594.141, 591063.220, 807063.404]
    assert frame["taker_buy_base"].to_list() == [171524.367, 292887.133, 385432.217]
    assert frame["taker_buy_quote"].to_list() == [
        7484632548.44590,
        13228017474.64210,
        16765227081.16500,
    ]
    # columns the 8-column variant drops stay empty rather than invented
    assert frame["quote_volume"].null_count() == 3
    assert frame["trades"].null_count() == 3


def test_zip_holding_one_csv(tmp_path: Path) -> None:
    path = _um(tmp_path, "BTCUSDT-1h-2024-01.zip")
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("BTCUSDT-1h-2024-01.csv", "\n".join(KLINE_ROWS) + "\n")
    raw, _, parsed = parse_file(path, options=FileOptions(now=NOW))
    assert raw.name == "BTCUSDT-1h-2024-01.csv"
    assert raw.size_bytes == path.stat().st_size
    assert parsed.series[0].key.market == "BTC/USDT:USDT"
    assert parsed.series[0].frame.to_dicts() == [FIRST_BAR, SECOND_BAR]


def test_zip_with_two_files_is_refused(tmp_path: Path) -> None:
    path = _um(tmp_path, "BTCUSDT-1h-2024-01.zip")
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", KLINE_ROWS[0])
        archive.writestr("b.csv", KLINE_ROWS[1])
    with pytest.raises(ParseError, match="zip holds 2 files"):
        parse_file(path)


def test_timeframe_from_close_time_beats_irregular_spacing(tmp_path: Path) -> None:
    # 4h bars with holes: spacing is 8h or 12h, close_time - open_time is 4h
    step = 4 * HOUR_MS
    opens = [T0_MS, T0_MS + 2 * step, T0_MS + 4 * step, T0_MS + 7 * step]
    rows = [_kline(t, step, 100, 101, 99, 100.5) for t in opens]
    path = _write(tmp_path / "export.csv", rows)
    _, _, series = _only_series(path, market="BTC/USDT")
    assert series.key.timeframe == "4h"
    assert series.frame.height == 4


@pytest.mark.parametrize(
    ("folder", "name", "market"),
    [
        ("data/spot/monthly/klines/BTCUSDT/1h", "BTCUSDT-1h-2024-01.csv", "BTC/USDT"),
        (
            "data/futures/um/monthly/klines/BTCUSDT/1h",
            "BTCUSDT-1h-2024-01.csv",
            "BTC/USDT:USDT",
        ),
        (
            "data/futures/um/daily/klines/ETHUSDC/1h",
            "ETHUSDC-1h-2024-01-01.csv",
            "ETH/USDC:USDC",
        ),
        (
            "data/futures/cm/monthly/klines/BTCUSD_PERP/1h",
            "BTCUSD_PERP-1h-2024-01.csv",
            "BTC/USD:BTC",
        ),
    ],
)
def test_market_from_archive_path(
    tmp_path: Path, folder: str, name: str, market: str
) -> None:
    path = _write(tmp_path / folder / name, _hourly(3))
    _, _, series = _only_series(path)
    assert series.key.market == market
    assert series.key.timeframe == "1h"
    assert series.key.venue == "binance"


def test_market_option_wins_over_path(tmp_path: Path) -> None:
    path = _write(_spot(tmp_path, "BTCUSDT-1h-2024-01.csv"), _hourly(3))
    _, _, series = _only_series(path, market="BTC/FDUSD")
    assert series.key.market == "BTC/FDUSD"


def test_unknown_market_names_the_option(tmp_path: Path) -> None:
    path = _write(tmp_path / "downloads" / "BTCUSDT-1h-2024-01.csv", _hourly(3))
    with pytest.raises(ParseError, match="--market") as info:
        parse_file(path, options=FileOptions(now=NOW))
    assert str(path) in str(info.value)
    assert "--timeframe" not in str(info.value)  # the name gave the timeframe


def test_malformed_number_names_line_and_column(tmp_path: Path) -> None:
    rows = _hourly(4)
    fields = rows[2].split(",")
    fields[2] = "10x2"  # high of the third row
    rows[2] = ",".join(fields)
    path = _write(_spot(tmp_path, "BTCUSDT-1h-2024-01.csv"), rows)
    with pytest.raises(ParseError) as info:
        parse_file(path, options=FileOptions(now=NOW))
    message = str(info.value)
    assert "line 3" in message  # headerless: the third row is line 3
    assert "'high'" in message
    assert "10x2" in message


def test_malformed_number_line_counts_the_header(tmp_path: Path) -> None:
    rows = _hourly(4)
    fields = rows[1].split(",")
    fields[5] = "n.a."  # volume of the second data row
    rows[1] = ",".join(fields)
    path = _write(_spot(tmp_path, "BTCUSDT-1h-2024-01.csv"), [KLINE_HEADER, *rows])
    with pytest.raises(ParseError, match=r"line 3, column 'volume'"):
        parse_file(path, options=FileOptions(now=NOW))


def test_bar_with_high_below_low_is_refused(tmp_path: Path) -> None:
    rows = _hourly(3)
    rows[1] = _kline(T0_MS + HOUR_MS, HOUR_MS, 100, 98, 99, 98.5)  # high < low
    path = _write(_spot(tmp_path, "BTCUSDT-1h-2024-01.csv"), rows)
    with pytest.raises(ParseError, match="inconsistent bar") as info:
        parse_file(path, options=FileOptions(now=NOW))
    assert "line 2" in str(info.value)


def test_non_positive_price_is_refused(tmp_path: Path) -> None:
    rows = [_kline(T0_MS, HOUR_MS, 0, 1, 0, 0.5)]
    path = _write(_spot(tmp_path, "BTCUSDT-1h-2024-01.csv"), rows)
    with pytest.raises(ParseError, match="inconsistent bar"):
        parse_file(path, options=FileOptions(now=NOW))


def test_timestamp_in_the_future(tmp_path: Path) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    # the last bar opens 1 day + 1 hour after `now`: beyond the one-day allowance
    path = _write(_spot(tmp_path, "BTCUSDT-1h-2024-01.csv"), _hourly(26))
    with pytest.raises(ParseError, match="in the future") as info:
        parse_file(path, options=FileOptions(now=now))
    assert "line 26" in str(info.value)
    assert "2024-01-02 01:00" in str(info.value)


def test_bar_one_day_ahead_is_still_accepted(tmp_path: Path) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    path = _write(_spot(tmp_path, "BTCUSDT-1h-2024-01.csv"), _hourly(25))
    _, _, series = _only_series(path, now=now)
    assert series.frame["ts"].max() == now + timedelta(days=1)


def test_seconds_misread_as_early_dates_are_refused(tmp_path: Path) -> None:
    rows = _hourly(2)
    path = _write(_spot(tmp_path, "BTCUSDT-1h-2024-01.csv"), rows)
    with pytest.raises(ParseError, match="before 2009"):
        parse_file(path, options=FileOptions(now=NOW, epoch_unit="us"))


def test_duplicate_bars_are_dropped_and_counted(tmp_path: Path) -> None:
    rows = _hourly(3)
    path = _write(_spot(tmp_path, "BTCUSDT-1h-2024-01.csv"), [*rows, rows[1]])
    _, parsed, series = _only_series(path)
    assert parsed.duplicates_dropped == 1
    assert series.frame.height == 3
    assert series.frame["ts"].is_sorted()


# --- funding ------------------------------------------------------------------
FUNDING_LINES = [
    "calc_time,funding_interval_hours,last_funding_rate",
    "1704067200007,8,0.00037409",  # 2024-01-01 00:00:00.007
    "1704096000000,8,0.00028573",  # 08:00
    "1704124800012,4,-0.00001234",  # 16:00, interval switched to 4h
    "1704139200003,4,0.00010000",  # 20:00
]


def test_binance_archive_funding(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "data/futures/um/monthly/fundingRate/BTCUSDT"
        "/BTCUSDT-fundingRate-2024-01.csv",
        FUNDING_LINES,
    )
    preset, _, series = _only_series(path)
    assert preset.name == "binance-funding"
    assert series.key == SeriesKey(
        "binance", "BTC/USDT:USDT", SeriesKind.FUNDING, "settle"
    )
    frame = series.frame
    # millisecond jitter truncated to the second
    assert frame["ts"].to_list() == [
        datetime(2024, 1, 1, 0, tzinfo=UTC),
        datetime(2024, 1, 1, 8, tzinfo=UTC),
        datetime(2024, 1, 1, 16, tzinfo=UTC),
        datetime(2024, 1, 1, 20, tzinfo=UTC),
    ]
    assert frame["rate"].to_list() == [0.00037409, 0.00028573, -0.00001234, 0.0001]
    assert frame["interval_hours"].to_list() == [8, 8, 4, 4]
    assert frame["interval_hours"].dtype == pl.Int32


def test_binance_funding_outside_archive_layout_needs_market(tmp_path: Path) -> None:
    path = _write(tmp_path / "BTCUSDT-fundingRate-2024-01.csv", FUNDING_LINES)
    with pytest.raises(ParseError, match="--market"):
        parse_file(path, options=FileOptions(now=NOW))
    _, _, series = _only_series(path, market="BTC/USDT:USDT")
    assert series.frame.height == 4


# --- metrics ------------------------------------------------------------------
METRICS_HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,"
    "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,"
    "count_long_short_ratio,sum_taker_long_short_vol_ratio"
)


def test_binance_metrics_open_interest(tmp_path: Path) -> None:
    lines = [
        METRICS_HEADER,
        "2024-01-01 00:05:00,BTCUSDT,73041.425,3092152381.1,1.6,1.4,1.9,0.9",
        "2024-01-01 00:10:00,BTCUSDT,73110.512,3095807153.3,1.6,1.4,1.9,1.1",
    ]
    path = _write(tmp_path / "BTCUSDT-metrics-2024-01-01.csv", lines)
    preset, _, series = _only_series(path)
    assert preset.name == "binance-metrics"
    assert series.key == SeriesKey(
        "binance", "BTC/USDT:USDT", SeriesKind.OPEN_INTEREST, "5m"
    )
    assert series.frame.to_dicts() == [
        {
            "ts": datetime(2024, 1, 1, 0, 5, tzinfo=UTC),
            "oi_base": 73041.425,
            "oi_usd": 3092152381.1,
            "oi_base_derived": False,
            "oi_usd_derived": False,
        },
        {
            "ts": datetime(2024, 1, 1, 0, 10, tzinfo=UTC),
            "oi_base": 73110.512,
            "oi_usd": 3095807153.3,
            "oi_base_derived": False,
            "oi_usd_derived": False,
        },
    ]


def test_binance_metrics_with_two_symbols_is_refused(tmp_path: Path) -> None:
    lines = [
        METRICS_HEADER,
        "2024-01-01 00:05:00,BTCUSDT,73041.425,3092152381.1,1.6,1.4,1.9,0.9",
        "2024-01-01 00:05:00,ETHUSDT,902311.51,2064116212.2,1.6,1.4,1.9,0.9",
    ]
    path = _write(tmp_path / "metrics.csv", lines)
    with pytest.raises(ParseError, match="mixed symbols"):
        parse_file(path, options=FileOptions(now=NOW))


# --- real file ----------------------------------------------------------------
def test_real_lazzmatazz_btc_daily_with_taker_columns(
    shared_raw: Path, mappings_dir: Path
) -> None:
    path = shared_raw / "binance_perp_1d_taker_lazzmatazz" / "BTCUSDT-1d.csv"
    _, preset, parsed = parse_file(
        path, options=FileOptions(now=NOW), rules=load_mapping(mappings_dir)
    )
    assert preset.name == "binance-klines"
    (series,) = parsed.series
    assert series.key == SeriesKey("binance", "BTC/USDT:USDT", SeriesKind.OHLCV, "1d")
    assert "taker" in series.notes
    frame = series.frame
    # PROVENANCE section 9: 2020-01-01 .. 2026-09-30, 2,465 rows, no gaps
    assert frame.height == 2465
    assert parsed.duplicates_dropped == 0
    assert frame["ts"].min() == datetime(2020, 1, 1, tzinfo=UTC)
    assert frame["ts"].max() == datetime(2026, 9, 30, tzinfo=UTC)
    # first line of the file:
    # 1577836800000,7189.43,7260.43,7170.15,7197.57,56801.329,28834.200,208001969.84595
    assert frame.row(0, named=True) == {
        "ts": datetime(2020, 1, 1, tzinfo=UTC),
        "open": 7189.43,
        "high": 7260.43,
        "low": 7170.15,
        "close": 7197.57,
        "volume": 56801.329,
        "quote_volume": None,
        "trades": None,
        "taker_buy_base": 28834.200,
        "taker_buy_quote": 208001969.84595,
    }
    # PROVENANCE: the archive's 2025-01-14 volume is 210,263.165
    day = frame.filter(pl.col("ts") == datetime(2025, 1, 14, tzinfo=UTC))
    assert day["volume"].to_list() == [210263.165]
    # PROVENANCE checks: 0 <= taker_buy_base <= volume on every row
    assert frame.filter(
        (pl.col("taker_buy_base") < 0) | (pl.col("taker_buy_base") > pl.col("volume"))
    ).is_empty()


def test_real_lazzmatazz_without_mapping_asks_for_market(shared_raw: Path) -> None:
    path = shared_raw / "binance_perp_1d_taker_lazzmatazz" / "BTCUSDT-1d.csv"
    with pytest.raises(ParseError, match="--market"):
        parse_file(path, options=FileOptions(now=NOW))
