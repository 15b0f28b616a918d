"""Recording live liquidations into the store, with their coverage and gaps.

:func:`record_liquidations` (blocking) and :func:`record_liquidations_async`
follow the venues' liquidation websockets (see
:mod:`rallylens.sources.live_liquidations`) until ``stop`` is set, writing
``liquidation_events`` rows in small transactions:

* rows are buffered and written every ``flush_seconds`` (sooner when
  ``max_pending_rows`` are waiting), so a hard kill loses at most that much;
  setting ``stop`` writes everything received and returns;
* writes go through :func:`~rallylens.store.write.write_series`, keyed by
  ``(ts, side, price, quantity)`` within the venue/market series, so a
  liquidation delivered twice (a venue replaying after a reconnect, a second
  run overlapping the first) is stored once;
* each run records, per series, the period it covered
  (``recording_coverage``: from the first frame of the first connection to the
  last moment known live) and the disconnected periods inside it
  (``recording_gaps``). Time before the first run or between runs is not
  covered: absent rows there mean "not recorded", not "no liquidations".

The memory held is bounded: at most ``max_pending_rows`` buffered rows (plus
the rows of the message that reached it: the buffer is written as soon as it
is full), no per-event state beyond that.

Signals are the caller's: a handler that sets ``stop`` gives a clean stop. An
unhandled SIGINT cancels the run like a hard kill (up to ``flush_seconds``
lost).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from rallylens.exceptions import ConfigError, StoreError
from rallylens.schemas import (
    LIQUIDATION_EVENTS,
    NOTIONAL_USD,
    PRICE,
    QUANTITY,
    SIDE,
    TS,
    SeriesFrame,
    SeriesKey,
    parse_market,
    validate,
)
from rallylens.sources.live_liquidations import (
    Backoff,
    LiquidationRow,
    LiquidationStream,
    liquidation_key,
    open_liquidation_exchange,
    venue_spec,
)
from rallylens.store._db import Store
from rallylens.store.write import write_series

__all__ = [
    "COVERED_END",
    "COVERED_START",
    "GAP_END",
    "GAP_START",
    "NOT_RUNNING",
    "REASON",
    "RUN_ID",
    "RecordingReport",
    "SeriesRecording",
    "record_liquidations",
    "record_liquidations_async",
    "recording_coverage",
    "recording_gaps",
]

log = logging.getLogger(__name__)

_START_WAIT_S = 30.0
"""How long a starting recorder waits for a store another process holds."""
_FLUSH_WAIT_S = 0.5
"""How long a flush waits before keeping its rows for the next one."""
_STOP_WAIT_S = 60.0
"""How long the final flush of a clean stop waits."""

RUN_ID = "run_id"
COVERED_START, COVERED_END = "covered_start", "covered_end"
GAP_START, GAP_END, REASON = "gap_start", "gap_end", "reason"
NOT_RUNNING = "recorder not running"
"""Reason of the gaps between two runs."""

_UTC = pl.Datetime("us", "UTC")
_ROW_SCHEMA = {
    TS: pl.Int64(),
    SIDE: pl.String(),
    PRICE: pl.Float64(),
    QUANTITY: pl.Float64(),
    NOTIONAL_USD: pl.Float64(),
}


# --- reading coverage back -------------------------------------------------------
def _series_id(store: Store, key: SeriesKey) -> int:
    row = store.one(
        "SELECT series_id FROM series WHERE venue = ? AND market = ? AND kind = ? "
        "AND timeframe = ?",
        [key.venue, key.market, key.kind.value, key.timeframe],
    )
    if row is None:
        raise StoreError(
            f"the store holds no series {key}; record it first "
            "(rallylens.store.recording.record_liquidations)"
        )
    return int(str(row[0]))


def recording_coverage(store: Store, key: SeriesKey) -> pl.DataFrame:
    """Periods recorder runs covered ``key``: one row per run, oldest first.

    Returns
    -------
    pl.DataFrame
        ``run_id``, ``covered_start``, ``covered_end`` (UTC). Disconnected
        periods inside a run are in :func:`recording_gaps`.

    Raises
    ------
    StoreError
        If the store holds no such series.
    """
    frame = store.query(
        "SELECT run_id, covered_start, covered_end FROM recording_coverage "
        "WHERE series_id = ? ORDER BY covered_start, run_id",
        [_series_id(store, key)],
    )
    return frame.select(
        pl.col(RUN_ID).cast(pl.Int64()),
        pl.col(COVERED_START).cast(_UTC),
        pl.col(COVERED_END).cast(_UTC),
    )


def recording_gaps(store: Store, key: SeriesKey) -> pl.DataFrame:
    """Periods inside the recorded span of ``key`` with nothing recorded.

    Disconnections inside a run, and the time between two runs (reason
    :data:`NOT_RUNNING`). Time before the first run is not a gap: it was
    never covered (see :func:`recording_coverage`).

    Returns
    -------
    pl.DataFrame
        ``gap_start``, ``gap_end`` (UTC, the gap is ``[start, end)``) and
        ``reason``, sorted by start.

    Raises
    ------
    StoreError
        If the store holds no such series.
    """
    series_id = _series_id(store, key)
    stored = store.query(
        "SELECT gap_start, gap_end, reason FROM recording_gaps WHERE series_id = ?",
        [series_id],
    )
    coverage = recording_coverage(store, key)
    between = []
    reach: datetime | None = None
    for start, end in coverage.select(COVERED_START, COVERED_END).iter_rows():
        if reach is not None and start > reach:
            between.append((reach, start, NOT_RUNNING))
        reach = end if reach is None else max(reach, end)
    frames = [
        stored.select(
            pl.col(GAP_START).cast(_UTC),
            pl.col(GAP_END).cast(_UTC),
            pl.col(REASON).cast(pl.String()),
        ),
        pl.DataFrame(
            between,
            schema={GAP_START: _UTC, GAP_END: _UTC, REASON: pl.String()},
            orient="row",
        ),
    ]
    return pl.concat(frames).sort(GAP_START, GAP_END)


# --- the report ------------------------------------------------------------------
@dataclass(frozen=True)
class SeriesRecording:
    """What one run did for one series."""

    key: SeriesKey
    received: int
    inserted: int
    gaps: int
    covered_start: datetime | None
    covered_end: datetime | None


@dataclass(frozen=True)
class RecordingReport:
    """Outcome of one recorder run."""

    run_id: int
    started_at: datetime
    ended_at: datetime
    clean_stop: bool
    series: tuple[SeriesRecording, ...]
    reconnects: Mapping[str, int] = field(default_factory=dict)
    malformed: int = 0
    peak_pending_rows: int = 0

    @property
    def received(self) -> int:
        """Liquidations received over all series (duplicates included)."""
        return sum(s.received for s in self.series)

    @property
    def inserted(self) -> int:
        """Rows newly stored over all series."""
        return sum(s.inserted for s in self.series)


# --- the buffer between the streams and the store ----------------------------------
class _Pending:
    """Rows and gaps received since the last flush (a :class:`LiquidationSink`)."""

    def __init__(self, venue_keys: Mapping[str, Sequence[SeriesKey]], cap: int) -> None:
        self.venue_keys = venue_keys
        self.cap = cap
        self.rows: dict[SeriesKey, list[LiquidationRow]] = {}
        self.size = 0
        self.max_size = 0
        self.gaps: list[tuple[str, int, int, str]] = []
        self.received: dict[SeriesKey, int] = {}
        self.gap_counts: dict[SeriesKey, int] = {}
        self.on_full: Callable[[], None] | None = None  # writes (and empties) us

    def add_rows(self, key: SeriesKey, rows: list[LiquidationRow]) -> None:
        self.rows.setdefault(key, []).extend(rows)
        self.received[key] = self.received.get(key, 0) + len(rows)
        self.size += len(rows)
        self.max_size = max(self.max_size, self.size)
        if self.size >= self.cap and self.on_full is not None:
            self.on_full()  # synchronous: nothing else runs meanwhile

    def add_gap(self, venue: str, start_ms: int, end_ms: int, reason: str) -> None:
        self.gaps.append((venue, start_ms, end_ms, reason))
        for key in self.venue_keys.get(venue, ()):
            self.gap_counts[key] = self.gap_counts.get(key, 0) + 1

    def take(
        self,
    ) -> tuple[dict[SeriesKey, list[LiquidationRow]], list[tuple[str, int, int, str]]]:
        rows, gaps = self.rows, self.gaps
        self.rows, self.gaps, self.size = {}, [], 0
        return rows, gaps


def _rows_frame(rows: list[LiquidationRow]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=_ROW_SCHEMA, orient="row").with_columns(
        pl.col(TS).cast(_UTC)
    )
    key = list(LIQUIDATION_EVENTS.key)
    return validate(
        frame.unique(subset=key, keep="first").sort(key), LIQUIDATION_EVENTS
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Recorder:
    """One run: owns the store writes; the streams feed its :class:`_Pending`."""

    def __init__(
        self,
        store_path: str | Path,
        streams: Sequence[LiquidationStream],
        pending: _Pending,
        *,
        flush_seconds: float,
        options: Mapping[str, object],
    ) -> None:
        self.store_path = store_path
        self.store: Store
        self.streams = streams
        self.pending = pending
        self.flush_seconds = flush_seconds
        self.options = options
        self.notes = {
            key: dict(venue_spec(s.venue).notes)
            for s in streams
            for key in s.keys.values()
        }
        self.inserted: dict[SeriesKey, int] = dict.fromkeys(self.notes, 0)
        self.started_ms = _now_ms()
        with Store(store_path, wait_seconds=_START_WAIT_S) as self.store:
            self.run_id = self._start()
            self.series_ids = {key: self._series_id(key) for key in self.notes}
        pending.on_full = self.flush

    def _start(self) -> int:
        empty = LIQUIDATION_EVENTS.empty()
        write_series(
            self.store,
            [SeriesFrame(key, empty, notes=notes) for key, notes in self.notes.items()],
        )
        row = self.store.one("SELECT nextval('recording_run_id_seq')")
        assert row is not None
        run_id = int(str(row[0]))
        started = _utc(self.started_ms)
        self.store.run(
            "INSERT INTO recording_runs VALUES (?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, "
            "false, ?)",
            [run_id, started, started, json.dumps(dict(self.options), default=str)],
        )
        return run_id

    def _series_id(self, key: SeriesKey) -> int:
        return _series_id(self.store, key)

    def flush(self, *, clean_stop: bool = False) -> None:
        """Write buffered rows, then gaps, coverage and the run's heartbeat.

        The store is opened for the flush only, so other processes (``analyze``,
        ``store info``) can use it in between. While another process holds it,
        rows stay buffered for the next flush (a clean stop waits longer).
        """
        wait = _STOP_WAIT_S if clean_stop else _FLUSH_WAIT_S
        try:
            store = Store(self.store_path, wait_seconds=wait)
        except StoreError as exc:
            if clean_stop:
                raise
            log.warning("store busy, keeping rows for the next flush: %s", exc)
            return
        with store:
            self.store = store
            self._flush(clean_stop=clean_stop)

    def _flush(self, *, clean_stop: bool) -> None:
        now = _now_ms()
        rows, gaps = self.pending.take()
        frames = [
            SeriesFrame(key, _rows_frame(batch), notes=self.notes[key])
            for key, batch in rows.items()
            if batch
        ]
        if frames:
            report = write_series(self.store, frames)
            for written in report.series:
                self.inserted[written.key] += written.inserted
        self.store.run("BEGIN TRANSACTION")
        try:
            self._write_gaps(gaps)
            self._write_coverage(now)
            self.store.run(
                "UPDATE recording_runs SET ended_at = ?::TIMESTAMPTZ, clean_stop = ? "
                "WHERE run_id = ?",
                [_utc(now), clean_stop, self.run_id],
            )
            self.store.run("COMMIT")
        except BaseException:
            self.store.run("ROLLBACK")
            raise

    def _write_gaps(self, gaps: list[tuple[str, int, int, str]]) -> None:
        for venue, start, end, reason in gaps:
            for key in self.pending.venue_keys[venue]:
                self.store.run(
                    "INSERT INTO recording_gaps VALUES "
                    "(?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?, ?)",
                    [self.series_ids[key], _utc(start), _utc(end), reason, self.run_id],
                )

    def _write_coverage(self, now: int) -> None:
        for stream in self.streams:
            start, end = stream.first_up_ms, stream.covered_until(now)
            if start is None or end is None:
                continue
            for key in stream.keys.values():
                self.store.run(
                    "INSERT INTO recording_coverage VALUES "
                    "(?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ) ON CONFLICT (run_id, "
                    "series_id) DO UPDATE SET covered_end = excluded.covered_end",
                    [
                        self.run_id,
                        self.series_ids[key],
                        _utc(start),
                        _utc(max(start, end)),
                    ],
                )

    def report(self, *, clean_stop: bool) -> RecordingReport:
        series = []
        for stream in self.streams:
            end = stream.covered_until(_now_ms())
            for key in stream.keys.values():
                series.append(
                    SeriesRecording(
                        key,
                        self.pending.received.get(key, 0),
                        self.inserted[key],
                        self.pending.gap_counts.get(key, 0),
                        None
                        if stream.first_up_ms is None
                        else _utc(stream.first_up_ms),
                        None if end is None else _utc(end),
                    )
                )
        return RecordingReport(
            self.run_id,
            _utc(self.started_ms),
            datetime.now(UTC),
            clean_stop,
            tuple(series),
            {s.venue: s.reconnects for s in self.streams},
            sum(s.malformed for s in self.streams),
            self.pending.max_size,
        )

    async def run(self, stopping: asyncio.Event) -> RecordingReport:
        """Flush on a timer until ``stopping``; then close, flush and report.

        A cancelled run (a simulated hard kill) writes nothing more.
        """
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(s.run(stopping)) for s in self.streams]
        stopped = loop.create_task(stopping.wait())
        try:
            while not stopping.is_set():
                done, _ = await asyncio.wait(
                    {*tasks, stopped},
                    timeout=self.flush_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if any(t in done for t in tasks):
                    break  # a stream failed (they return only once stopping)
                self.flush()
        except asyncio.CancelledError:
            self.pending.on_full = None  # a hard kill writes nothing more
            raise
        finally:
            stopping.set()
            stopped.cancel()
            results = await asyncio.gather(*tasks, stopped, return_exceptions=True)
        error = next((r for r in results if isinstance(r, Exception)), None)
        for stream in self.streams:
            await stream.close()
        self.flush(clean_stop=error is None)
        if error is not None:
            raise error
        return self.report(clean_stop=True)


# --- entry points --------------------------------------------------------------------
def _plan(
    venues: Sequence[str], symbols: Sequence[str] | Mapping[str, Sequence[str]]
) -> dict[str, tuple[str, ...]]:
    if isinstance(venues, str):
        venues = [venues]
    if not venues:
        raise ConfigError("no venue to record; pass e.g. venues=['binance', 'bybit']")
    plan: dict[str, tuple[str, ...]] = {}
    for venue in venues:
        venue_spec(venue)
        chosen = symbols.get(venue, ()) if isinstance(symbols, Mapping) else symbols
        chosen = (chosen,) if isinstance(chosen, str) else tuple(chosen)
        if not chosen:
            raise ConfigError(
                f"no symbol to record on {venue}; pass e.g. BTC/USDT:USDT"
            )
        for symbol in chosen:
            if parse_market(symbol).market_type != "perp":
                raise ConfigError(
                    f"{symbol!r} is not a perpetual; liquidations are recorded for "
                    "linear perpetuals written like 'BTC/USDT:USDT'"
                )
        plan[venue] = chosen
    return plan


async def _wait_for_stop(
    stop: asyncio.Event | threading.Event, stopping: asyncio.Event
) -> None:
    if isinstance(stop, asyncio.Event):
        await stop.wait()
    else:
        while not stop.is_set():
            await asyncio.sleep(0.05)
    stopping.set()


async def _load_all(streams: Sequence[LiquidationStream]) -> None:
    tasks = [asyncio.get_running_loop().create_task(s.load()) for s in streams]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in tasks:
        error = task.exception() if task in done else None
        if error is not None:
            raise error


async def record_liquidations_async(
    store_path: str | Path,
    venues: Sequence[str],
    symbols: Sequence[str] | Mapping[str, Sequence[str]],
    *,
    stop: asyncio.Event | threading.Event,
    flush_seconds: float = 2.0,
    base_url: str | None = None,
    backoff: Backoff | None = None,
    max_pending_rows: int = 20_000,
    timeout_ms: int = 10_000,
) -> RecordingReport:
    """Record liquidations until ``stop`` is set: :func:`record_liquidations`'s core.

    Same parameters, returns and errors. Cancelling the task is a hard stop:
    nothing more is written (at most the last ``flush_seconds`` of
    liquidations are lost) and the connections close.
    """
    if flush_seconds <= 0 or max_pending_rows < 1:
        raise ConfigError(
            f"flush_seconds must be > 0 and max_pending_rows >= 1, got "
            f"{flush_seconds} and {max_pending_rows}"
        )
    plan = _plan(venues, symbols)
    venue_keys = {v: [liquidation_key(v, s) for s in syms] for v, syms in plan.items()}
    pending = _Pending(venue_keys, max_pending_rows)
    streams = [
        LiquidationStream(
            venue,
            open_liquidation_exchange(venue, base_url=base_url, timeout_ms=timeout_ms),
            syms,
            pending,
            backoff=backoff,
        )
        for venue, syms in plan.items()
    ]
    stopping = asyncio.Event()
    watcher = asyncio.get_running_loop().create_task(_wait_for_stop(stop, stopping))
    try:
        await _load_all(streams)
        options = {"venues": plan, "flush_seconds": flush_seconds}
        recorder = _Recorder(
            store_path, streams, pending, flush_seconds=flush_seconds, options=options
        )
        return await recorder.run(stopping)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in streams), return_exceptions=True)


def record_liquidations(
    store_path: str | Path,
    venues: Sequence[str],
    symbols: Sequence[str] | Mapping[str, Sequence[str]],
    *,
    stop: asyncio.Event | threading.Event,
    flush_seconds: float = 2.0,
    base_url: str | None = None,
    backoff: Backoff | None = None,
    max_pending_rows: int = 20_000,
    timeout_ms: int = 10_000,
) -> RecordingReport:
    """Record venues' liquidations into the store until ``stop`` is set.

    Parameters
    ----------
    store_path : str or Path
        The store file (created when missing).
    venues : Sequence[str]
        Any of ``binance`` (USDⓈ-M), ``bybit``, ``okx``.
    symbols : Sequence[str] or Mapping[str, Sequence[str]]
        Linear perpetuals (``BTC/USDT:USDT``), for every venue or per venue.
    stop : threading.Event or asyncio.Event
        Set it (e.g. from a SIGINT/SIGTERM handler) to write everything and
        return.
    flush_seconds : float, default 2.0
        Longest time a received liquidation waits in memory.
    base_url : str, optional
        Send every request to this host (tests: the local venue emulator).
    backoff : Backoff, optional
        Reconnection policy.
    max_pending_rows : int, default 20000
        Write sooner when this many rows are waiting.
    timeout_ms : int, default 10000
        REST timeout of the market lists loaded at start.

    Returns
    -------
    RecordingReport
        Per series: received, inserted, gaps, covered period.

    Raises
    ------
    ConfigError
        Unknown venue, empty symbol list or a symbol that is not a perpetual.
    UnsupportedSymbolError
        A venue does not list a symbol (checked before anything is written).
    SourceError
        A venue refuses this location, rejects the subscription or kept
        failing to list its markets.

    Examples
    --------
    >>> import signal, threading                               # doctest: +SKIP
    >>> stop = threading.Event()                               # doctest: +SKIP
    >>> signal.signal(signal.SIGINT, lambda *_: stop.set())    # doctest: +SKIP
    >>> record_liquidations("data.duckdb", ["binance", "okx"], ["BTC/USDT:USDT"],
    ...                     stop=stop)                         # doctest: +SKIP
    """
    return asyncio.run(
        record_liquidations_async(
            store_path,
            venues,
            symbols,
            stop=stop,
            flush_seconds=flush_seconds,
            base_url=base_url,
            backoff=backoff,
            max_pending_rows=max_pending_rows,
            timeout_ms=timeout_ms,
        )
    )
