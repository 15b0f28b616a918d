"""freqtrade preset: candle, mark and funding_rate files (feather and CSV)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from rallylens._typing import SeriesKind
from rallylens.exceptions import ParseError
from rallylens.schemas import SeriesKey
from rallylens.sources import FileOptions, load_mapping, parse_file
from tests.conftest import NOW

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CANDLE_VALUES = {
    "open": [42283.58, 42475.23, 42613.56],
    "high": [42554.57, 42775.0, 42638.0],
    "low": [42261.02, 42431.65, 42520.01],
    "close": [42475.23, 42613.56, 42582.0],
    "volume": [1271.68108, 1196.37856, 721.1],
}


def _candles(step: timedelta, n: int = 3, **columns: list[float]) -> pl.DataFrame:
    data = {k: v[:n] for k, v in (CANDLE_VALUES | columns).items()}
    dates = [T0 + i * step for i in range(n)]
    return pl.DataFrame(
        {"date": pl.Series(dates, dtype=pl.Datetime("ms", "UTC")), **data}
    )


def _feather(path: Path, frame: pl.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_ipc(path)
    return path


def _csv(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _parse(path: Path, **options: object):
    opts = FileOptions(**{"now": NOW, **options})  # type: ignore[arg-type]
    _, preset, parsed = parse_file(path, options=opts)
    assert preset.name == "freqtrade"
    (series,) = parsed.series
    return series


def _funding(rates: list[float], step_hours: int) -> pl.DataFrame:
    n = len(rates)
    zeros = [0.0] * n
    return pl.DataFrame(
        {
            "date": pl.Series(
                [T0 + timedelta(hours=step_hours * i) for i in range(n)],
                dtype=pl.Datetime("ms", "UTC"),
            ),
            "open": rates,
            "high": zeros,
            "low": zeros,
            "close": zeros,
            "volume": zeros,
        }
    )


def test_spot_feather(tmp_path: Path) -> None:
    path = _feather(
        tmp_path / "user_data/data/binance/BTC_USDT-1h.feather",
        _candles(timedelta(hours=1)),
    )
    series = _parse(path)
    assert series.key == SeriesKey("binance", "BTC/USDT", SeriesKind.OHLCV, "1h")
    frame = series.frame
    assert frame["ts"].to_list() == [
        T0,
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=2),
    ]
    for column, values in CANDLE_VALUES.items():
        assert frame[column].to_list() == values
    assert frame["trades"].null_count() == 3


def test_spot_csv(tmp_path: Path) -> None:
    lines = [
        "date,open,high,low,close,volume",
        "2024-01-01T00:00:00Z,42283.58,42554.57,42261.02,42475.23,1271.68108",
        "2024-01-01T01:00:00Z,42475.23,42775.0,42431.65,42613.56,1196.37856",
        "2024-01-01T02:00:00Z,42613.56,42638.0,42520.01,42582.0,721.1",
    ]
    series = _parse(_csv(tmp_path / "binance" / "BTC_USDT-1h.csv", lines))
    assert series.key == SeriesKey("binance", "BTC/USDT", SeriesKind.OHLCV, "1h")
    for column, values in CANDLE_VALUES.items():
        assert series.frame[column].to_list() == values


def test_csv_with_epoch_millisecond_dates(tmp_path: Path) -> None:
    lines = [
        "date,open,high,low,close,volume",
        "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108",
        "1704070800000,42475.23,42775.0,42431.65,42613.56,1196.37856",
    ]
    series = _parse(_csv(tmp_path / "binance" / "BTC_USDT-1h.csv", lines))
    assert series.frame["ts"].to_list() == [T0, T0 + timedelta(hours=1)]


def test_perp_futures_feather(tmp_path: Path) -> None:
    path = _feather(
        tmp_path / "user_data/data/binance/futures/BTC_USDT_USDT-4h-futures.feather",
        _candles(timedelta(hours=4)),
    )
    series = _parse(path)
    assert series.key == SeriesKey("binance", "BTC/USDT:USDT", SeriesKind.OHLCV, "4h")
    assert series.frame["volume"].to_list() == CANDLE_VALUES["volume"]


def test_mark_feather_has_no_volume(tmp_path: Path) -> None:
    frame = _candles(timedelta(hours=1), volume=[0.0, 0.0, 0.0])
    path = _feather(
        tmp_path / "user_data/data/binance/futures/BTC_USDT_USDT-1h-mark.feather", frame
    )
    series = _parse(path)
    assert series.key == SeriesKey("binance", "BTC/USDT:USDT", SeriesKind.MARK, "1h")
    assert series.frame["close"].to_list() == CANDLE_VALUES["close"]
    # freqtrade writes 0 for mark volume: that is no volume, not zero trading
    assert series.frame["volume"].null_count() == 3


@pytest.mark.parametrize("step_hours", [8, 4])
def test_funding_rate_feather(tmp_path: Path, step_hours: int) -> None:
    rates = [0.0001, 0.00012, -0.00003, 0.0001]
    # freqtrade names the file after the candle timeframe, rows are settlements
    path = _feather(
        tmp_path
        / "user_data/data/binance/futures/BTC_USDT_USDT-1h-funding_rate.feather",
        _funding(rates, step_hours),
    )
    series = _parse(path)
    assert series.key == SeriesKey(
        "binance", "BTC/USDT:USDT", SeriesKind.FUNDING, "settle"
    )
    assert series.frame["rate"].to_list() == rates
    assert series.frame["interval_hours"].to_list() == [step_hours] * 4
    assert series.frame["ts"].to_list() == [
        T0 + timedelta(hours=step_hours * i) for i in range(4)
    ]


def test_funding_with_irregular_spacing_needs_interval(tmp_path: Path) -> None:
    path = _feather(
        tmp_path / "binance/futures/BTC_USDT_USDT-1h-funding_rate.feather",
        _funding([0.0001, 0.0001, 0.0001], 6),
    )
    with pytest.raises(ParseError, match="--interval-hours"):
        _parse(path)
    series = _parse(path, interval_hours=8)
    assert series.frame["interval_hours"].to_list() == [8, 8, 8]


def test_funding_rate_in_percent_is_refused_as_decimal(tmp_path: Path) -> None:
    # 0.01 is 0.01 % written in percent; as a decimal it would be 1 % per 8h
    path = _feather(
        tmp_path / "binance/futures/BTC_USDT_USDT-8h-funding_rate.feather",
        _funding([0.01, 0.012, 0.009, 0.01], 8),
    )
    with pytest.raises(ParseError, match="percent") as info:
        _parse(path)
    assert "--rate-unit percent" in str(info.value)
    series = _parse(path, rate_unit="percent")
    assert series.frame["rate"].to_list() == pytest.approx(
        [0.0001, 0.00012, 0.00009, 0.0001], rel=1e-12
    )


@pytest.mark.parametrize("venue", ["binance", "okx", "bybit"])
def test_venue_from_parent_directory(tmp_path: Path, venue: str) -> None:
    path = _feather(
        tmp_path
        / "user_data/data"
        / venue
        / "futures/ETH_USDT_USDT-1h-futures.feather",
        _candles(timedelta(hours=1)),
    )
    assert _parse(path).key.venue == venue


def test_missing_venue_names_the_option(tmp_path: Path) -> None:
    path = _feather(
        tmp_path / "exports/BTC_USDT-1h.feather", _candles(timedelta(hours=1))
    )
    with pytest.raises(ParseError, match="--venue"):
        _parse(path)
    assert _parse(path, venue="kraken").key.venue == "kraken"


def test_timeframe_inferred_from_spacing(tmp_path: Path) -> None:
    # a name freqtrade would not write; bars 4h apart with one missing
    frame = _candles(timedelta(hours=4), n=3)
    frame = pl.concat(
        [
            frame,
            frame.tail(1).with_columns(pl.col("date") + pl.duration(hours=8)),
        ]
    )
    path = _feather(tmp_path / "btc_candles.feather", frame)
    series = _parse(path, venue="binance", market="BTC/USDT")
    assert series.key.timeframe == "4h"
    assert series.frame.height == 4


# --- real files -------------------------------------------------------------
def test_real_funding_first_settlement_and_apr(
    shared_raw: Path, mappings_dir: Path
) -> None:
    path = shared_raw / "binance_freqtrade_marketlab" / "funding_BTCUSDT_8h.csv"
    _, preset, parsed = parse_file(
        path, options=FileOptions(now=NOW), rules=load_mapping(mappings_dir)
    )
    assert preset.name == "freqtrade"
    (series,) = parsed.series
    assert series.key == SeriesKey(
        "binance", "BTC/USDT:USDT", SeriesKind.FUNDING, "settle"
    )
    frame = series.frame
    assert frame.height == 1247  # PROVENANCE section 2
    first = frame.row(0, named=True)
    # first line: 2024-12-31T00:00:00Z,0.0001,0.0,0.0,0.0,0.0
    assert first["ts"] == datetime(2024, 12, 31, tzinfo=UTC)
    assert first["rate"] == 0.0001
    assert first["interval_hours"] == 8
    settlements_per_year = 24 / first["interval_hours"] * 365  # 3 a day
    assert first["rate"] * settlements_per_year == pytest.approx(0.1095)
    # rows every 8 hours, none missing (PROVENANCE: no gaps)
    assert frame["ts"].diff().drop_nulls().unique().to_list() == [timedelta(hours=8)]


def test_real_marketlab_spot_equals_deeplscalp_on_overlap(
    shared_raw: Path, mappings_dir: Path
) -> None:
    rules = load_mapping(mappings_dir)
    options = FileOptions(now=NOW)
    _, _, a = parse_file(
        shared_raw / "binance_freqtrade_marketlab" / "spot_BTC_USDT_1h.csv",
        options=options,
        rules=rules,
    )
    _, _, b = parse_file(
        shared_raw / "binance_spot_1h_deeplscalp" / "spot_BTC_USDT_1h_2021_2025.csv.gz",
        options=options,
        rules=rules,
    )
    (sa,), (sb,) = a.series, b.series
    assert sa.key == sb.key == SeriesKey("binance", "BTC/USDT", SeriesKind.OHLCV, "1h")
    # the same line in both raw files:
    # 2024-09-14T00:00:00Z,60497.99,60610.45,60372.77,60414.39,753.37252
    hour = datetime(2024, 9, 14, tzinfo=UTC)
    expected = [(60497.99, 60610.45, 60372.77, 60414.39, 753.37252)]
    for frame in (sa.frame, sb.frame):
        row = frame.filter(pl.col("ts") == hour).select(
            "open", "high", "low", "close", "volume"
        )
        assert row.rows() == expected
    # PROVENANCE: identical on all 11,306 overlapping hours
    cols = ["ts", "open", "high", "low", "close", "volume"]
    joined = sa.frame.select(cols).join(
        sb.frame.select(cols), on="ts", how="inner", suffix="_b"
    )
    assert joined.height == 11306
    for column in cols[1:]:
        assert (joined[column] == joined[f"{column}_b"]).all(), column
