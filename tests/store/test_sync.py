"""Incremental fetch into the store, with an in-process fake venue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import SourceError, UnsupportedSymbolError
from rallylens.schemas import CANDLES, CLOSE, TS, SeriesKey
from rallylens.store import (
    Store,
    last_timestamp,
    read_series,
    sync_series,
    sync_sources,
)

KEY = SeriesKey("fakex", "BTC/USDT", SeriesKind.OHLCV, "1d")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def candles(days: int) -> pl.DataFrame:
    ts = [T0 + i * DAY for i in range(days)]
    close = [100.0 + i for i in range(days)]
    frame = pl.DataFrame(
        {TS: ts, "open": close, "high": close, "low": close, CLOSE: close},
        schema_overrides={TS: pl.Datetime("us", "UTC")},
    )
    return frame.select(
        pl.col(c) if c in frame.columns else pl.lit(None, dtype).alias(c)
        for c, dtype in CANDLES.columns.items()
    )


class FakeSource:
    """Serves ``truth`` in chunks of ``chunk`` rows; can fail after N chunks."""

    venue = "fakex"

    def __init__(self, truth: pl.DataFrame, *, chunk: int = 10) -> None:
        self.truth = truth
        self.chunk = chunk
        self.calls: list[tuple[datetime, datetime]] = []
        self.fail_after: int | None = None
        self.error: Exception = SourceError("fakex: venue down (HTTP 503)")
        self.earliest_at: datetime | None = None

    def series(self, asset: str) -> list[SeriesKey]:
        return [KEY]

    def earliest(self, key: SeriesKey, now: datetime) -> datetime | None:
        return self.earliest_at

    def fetch(
        self, key: SeriesKey, start: datetime, end: datetime
    ) -> Iterator[pl.DataFrame]:
        self.calls.append((start, end))
        rows = self.truth.filter((pl.col(TS) >= start) & (pl.col(TS) < end))
        for n, offset in enumerate(range(0, rows.height, self.chunk)):
            if self.fail_after is not None and n >= self.fail_after:
                raise self.error
            yield rows.slice(offset, self.chunk)


def stored(store: Store) -> pl.DataFrame:
    return read_series(store, KEY)


def test_full_sync_stores_exactly_the_venue_data(store: Store) -> None:
    source = FakeSource(candles(45))
    result = sync_series(store, source, KEY, since=T0, now=T0 + 45 * DAY)
    assert (result.status, result.fetched, result.inserted) == ("updated", 45, 45)
    assert stored(store).equals(source.truth)
    assert last_timestamp(store, KEY) == T0 + 44 * DAY


def test_second_run_asks_for_nothing(store: Store) -> None:
    source = FakeSource(candles(45))
    sync_series(store, source, KEY, since=T0, now=T0 + 45 * DAY)
    again = sync_series(store, source, KEY, since=T0, now=T0 + 45 * DAY)
    assert again.status == "up_to_date"
    assert len(source.calls) == 1


def test_new_bars_only_are_fetched(store: Store) -> None:
    source = FakeSource(candles(50))
    sync_series(store, source, KEY, since=T0, now=T0 + 45 * DAY)
    later = sync_series(store, source, KEY, since=T0, now=T0 + 50 * DAY)
    assert source.calls[-1] == (T0 + 45 * DAY, T0 + 50 * DAY)
    assert (later.fetched, later.inserted) == (5, 5)
    assert stored(store).equals(source.truth)


def test_interrupted_fetch_keeps_chunks_and_resumes_without_duplicates(
    store: Store,
) -> None:
    source = FakeSource(candles(45))
    source.fail_after = 2
    first = sync_series(store, source, KEY, since=T0, now=T0 + 45 * DAY)
    assert first.status == "failed" and "HTTP 503" in first.note
    assert (first.fetched, stored(store).height) == (20, 20)
    source.fail_after = None
    second = sync_series(store, source, KEY, since=T0, now=T0 + 45 * DAY)
    assert source.calls[-1][0] == T0 + 20 * DAY
    assert second.inserted == 25
    assert stored(store).equals(source.truth)


def test_venue_history_limit_is_said_and_respected(store: Store) -> None:
    source = FakeSource(candles(45))
    source.earliest_at = T0 + 15 * DAY
    result = sync_series(store, source, KEY, since=T0, now=T0 + 45 * DAY)
    assert source.calls[0][0] == T0 + 15 * DAY
    assert "keeps ohlcv history only from 2024-01-16" in result.note
    assert "archive" in result.note
    assert stored(store)[TS].min() == T0 + 15 * DAY


def test_one_failing_series_does_not_stop_the_others(store: Store) -> None:
    bad = FakeSource(candles(10))
    bad.fail_after = 0
    bad.error = UnsupportedSymbolError("fakex does not list BTC/USDT")
    broken = FakeSource(candles(10))
    broken.fail_after = 0
    broken.error = KeyError("price")
    good = FakeSource(candles(10))
    other = SeriesKey("fakex", "BTC/USDT", SeriesKind.OHLCV, "1d")
    done = []
    results = sync_sources(
        store,
        [(bad, KEY), (broken, KEY), (good, other)],
        since=T0,
        now=T0 + 10 * DAY,
        on_done=done.append,
    )
    assert [r.status for r in results] == ["failed", "failed", "updated"]
    assert "does not list" in results[0].note
    assert results[1].note.startswith("KeyError")
    assert done == results
    assert stored(store).height == 10
