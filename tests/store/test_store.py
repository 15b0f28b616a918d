from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from rallylens.exceptions import StoreError
from rallylens.schemas import CANDLES, FUNDING, SeriesFrame, SeriesKey
from rallylens.store import Store, read_series, series_info, write_series
from rallylens.store._migrations import MIGRATIONS

T0 = datetime(2024, 3, 1, tzinfo=UTC)
KEY = SeriesKey("binance", "BTC/USDT", "ohlcv", "1h")  # type: ignore[arg-type]


def bars(hours: list[int], close: float = 10.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": [T0 + timedelta(hours=h) for h in hours],
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": None,
            "quote_volume": None,
            "trades": None,
            "taker_buy_base": None,
            "taker_buy_quote": None,
        },
        schema=CANDLES.columns,
    )


def test_migrations_apply_once(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        assert store.version == MIGRATIONS[-1][0]
    with Store(path) as store:  # reopening applies nothing new
        assert store.version == MIGRATIONS[-1][0]
        assert store.one("SELECT count(*) FROM schema_version") == (len(MIGRATIONS),)


def test_read_only_store_must_exist(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        Store(tmp_path / "missing.duckdb", read_only=True)


def test_keep_policy_fills_nulls_and_counts_conflicts(store: Store) -> None:
    write_series(store, [SeriesFrame(KEY, bars([0, 1, 2]))])
    richer = bars([1, 2, 3], close=11.0).with_columns(pl.lit(5.0).alias("volume"))
    report = write_series(store, [SeriesFrame(KEY, richer)])
    assert (report.inserted, report.filled, report.conflicting) == (1, 2, 2)
    stored = read_series(store, KEY)
    assert stored["close"].to_list() == [10.0, 10.0, 10.0, 11.0]  # kept
    assert stored["volume"].to_list() == [None, 5.0, 5.0, 5.0]  # filled


def test_overwrite_policy_replaces_values(store: Store) -> None:
    write_series(store, [SeriesFrame(KEY, bars([0, 1]))])
    report = write_series(
        store, [SeriesFrame(KEY, bars([1], close=12.0))], policy="overwrite"
    )
    assert (report.inserted, report.filled) == (0, 1)
    assert read_series(store, KEY)["close"].to_list() == [10.0, 12.0]


def test_series_info_counts_missing_bars(store: Store) -> None:
    write_series(store, [SeriesFrame(KEY, bars([0, 1, 2, 6, 7, 9]))])
    info = series_info(store).row(0, named=True)
    assert info["rows"] == 6
    assert info["gaps"] == 4  # hours 3, 4, 5 and 8
    assert info["largest_gap_bars"] == 3
    assert info["first_ts"] == T0 and info["last_ts"] == T0 + timedelta(hours=9)


def test_series_info_counts_missing_settlements_by_interval(store: Store) -> None:
    hours = [
        0,
        8,
        16,
        24,
        28,
        32,
        40,
    ]  # 8h, then 4h intervals, one 4h settlement missing at 36
    intervals = [8, 8, 8, 4, 4, 4, 4]
    frame = pl.DataFrame(
        {
            "ts": [T0 + timedelta(hours=h) for h in hours],
            "rate": 0.0001,
            "interval_hours": intervals,
            "rate_open": None,
            "rate_high": None,
            "rate_low": None,
        },
        schema=FUNDING.columns,
    )
    key = SeriesKey("binance", "BTC/USDT:USDT", "funding", "settle")  # type: ignore[arg-type]
    write_series(store, [SeriesFrame(key, frame)])
    assert series_info(store).row(0, named=True)["gaps"] == 1


def test_unknown_series_is_a_clear_error(store: Store) -> None:
    with pytest.raises(StoreError, match="holds no series binance:BTC/USDT:ohlcv:1h"):
        read_series(store, KEY)
