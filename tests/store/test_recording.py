"""The liquidation recorder against emulated venues: exactness, gaps, kills, memory."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pytest

from rallylens.exceptions import (
    ConfigError,
    SourceError,
    StoreError,
    UnsupportedSymbolError,
)
from rallylens.schemas import LIQUIDATION_EVENTS, TS
from rallylens.sources.live_liquidations import (
    Backoff,
    LiquidationStream,
    liquidation_key,
)
from rallylens.store import Store, list_series, read_series, series_info
from rallylens.store.recording import (
    GAP_END,
    GAP_START,
    NOT_RUNNING,
    REASON,
    RecordingReport,
    _Pending,
    record_liquidations,
    record_liquidations_async,
    recording_coverage,
    recording_gaps,
)
from tests.emulator import Emulator, Fault
from tests.emulator.liquidations import (
    BINANCE_WS_HOST,
    BYBIT_WS_HOST,
    OKX_WS_HOST,
    LiquidationStreams,
    install_liquidation_streams,
)

T = TypeVar("T")
VENUES = ["binance", "bybit", "okx"]
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
FAST = Backoff(base_delay_s=0.01, max_delay_s=0.05, load_attempts=12)
WS_HOSTS = {"binance": BINANCE_WS_HOST, "bybit": BYBIT_WS_HOST, "okx": OKX_WS_HOST}
REST = {
    "binance": r"fapi\.binance\.com/fapi/v1/exchangeInfo",
    "bybit": r"api\.bybit\.com/v5/market/instruments-info",
    "okx": r"www\.okx\.com/api/v5/public/instruments",
}
TOLERANCE_MS = 250  # a tick plus local latency on a busy machine
PAUSED: list[int] = []  # when record() paused the venues (they then withhold data)


@pytest.fixture
def feeds() -> Iterator[tuple[Emulator, LiquidationStreams]]:
    with Emulator() as emu:
        streams = install_liquidation_streams(
            emu, events_per_second=200, tick_s=0.02, binance_min_interval_ms=10
        )
        yield emu, streams


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


async def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def sent_at_least(streams: LiquidationStreams, n: int, venues: Sequence[str]) -> bool:
    return all(streams.sent_count[v] >= n for v in venues)


async def record(
    emu: Emulator,
    streams: LiquidationStreams,
    path: Path,
    venues: Sequence[str],
    symbols: Sequence[str],
    *,
    until: Callable[[], bool],
    settle_s: float = 0.2,
    **options: Any,
) -> RecordingReport:
    """Record until ``until()``, pause the venues, let in-flight data land, stop."""
    options = {"flush_seconds": 0.2, "backoff": FAST, **options}
    stop = asyncio.Event()
    task = asyncio.ensure_future(
        record_liquidations_async(
            path, venues, symbols, stop=stop, base_url=emu.base_url, **options
        )
    )
    await wait_for(lambda: until() or task.done())
    streams.paused = True
    PAUSED.append(int(time.time() * 1000))
    await asyncio.sleep(settle_s)
    stop.set()
    try:
        return await task
    finally:
        streams.paused = False


def ms(value: Any) -> int:
    return int(value.timestamp() * 1000)


def outside_gaps(stamps: pl.Series, gaps: pl.DataFrame) -> list[int]:
    """Epoch ms in ``stamps`` that no gap (widened by the tolerance) contains."""
    rows = gaps.select(GAP_START, GAP_END).iter_rows()
    spans = [(ms(s) - TOLERANCE_MS, ms(e) + TOLERANCE_MS) for s, e in rows]
    return [
        t
        for t in (ms(v) for v in stamps)
        if not any(start <= t <= end for start, end in spans)
    ]


def inside_coverage(frame: pl.DataFrame, coverage: pl.DataFrame) -> pl.DataFrame:
    """Rows inside the covered span, before the venues were paused to stop."""
    start, end = coverage["covered_start"].min(), coverage["covered_end"].max()
    paused = pl.lit(PAUSED[-1] * 1000).cast(pl.Datetime("us", "UTC"))
    return frame.filter(pl.col(TS).is_between(start, end), pl.col(TS) < paused)


def missing(truth: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
    return truth.join(stored, on=list(LIQUIDATION_EVENTS.key), how="anti")


# --- exactness under faults ---------------------------------------------------------
def test_faults_lose_nothing_sent_and_every_outage_is_a_gap(
    feeds: tuple[Emulator, LiquidationStreams], tmp_path: Path
) -> None:
    emu, streams = feeds
    streams.replay_last = 3  # venues re-sending recent liquidations on subscribe
    for venue in VENUES:  # every REST fault while loading markets ...
        for kind, delay in [
            ("429", 0),
            ("418", 0),
            ("500", 0),
            ("502", 0),
            ("503", 0),
            ("truncated", 0),
            ("invalid", 0),
            ("timeout", 0.6),
            ("slow", 0.05),
        ]:
            emu.inject(Fault(kind, match=REST[venue], delay_s=delay))  # type: ignore[arg-type]
        # ... and two dropped connections per venue
        emu.inject(Fault("disconnect", match=WS_HOSTS[venue], times=2, rows=6))
    path = tmp_path / "s.duckdb"

    def enough() -> bool:
        connections = [len(streams.venue_connections(v)) for v in VENUES]
        return min(connections) >= 3 and sent_at_least(streams, 150, VENUES)

    report = run(
        record(emu, streams, path, VENUES, [BTC, ETH], until=enough, timeout_ms=400)
    )
    assert not emu.pending_faults()
    assert report.clean_stop and report.malformed == 0
    assert report.received > report.inserted  # the replays were stored once
    assert report.reconnects == {"binance": 2, "bybit": 2, "okx": 2}
    with Store(path) as store:
        for venue in VENUES:
            connections = streams.venue_connections(venue)
            for symbol in (BTC, ETH):
                key = liquidation_key(venue, symbol)
                truth = streams.truth(venue, symbol)
                assert truth.height >= 20
                assert read_series(store, key).equals(truth)
                gaps = recording_gaps(store, key)
                assert gaps.height == 2
                assert gaps[REASON].str.contains("closed by").all()
                for gap, old, new in zip(
                    gaps.iter_rows(named=True),
                    connections,
                    connections[1:],
                    strict=False,
                ):
                    assert old.closed_by_fault and new.subscribed_ms is not None
                    assert abs(ms(gap[GAP_START]) - (old.closed_ms or 0)) < TOLERANCE_MS
                    assert abs(ms(gap[GAP_END]) - new.subscribed_ms) < TOLERANCE_MS
                coverage = recording_coverage(store, key)
                assert coverage.height == 1
                unsent = inside_coverage(
                    missing(streams.happened(venue, symbol), truth), coverage
                )
                assert outside_gaps(unsent[TS], gaps) == []


def test_a_clean_stop_writes_everything_received(
    feeds: tuple[Emulator, LiquidationStreams], tmp_path: Path
) -> None:
    emu, streams = feeds
    path = tmp_path / "s.duckdb"
    report = run(
        record(
            emu,
            streams,
            path,
            VENUES,
            [BTC, ETH],
            until=lambda: sent_at_least(streams, 100, VENUES),
            flush_seconds=600,  # nothing is written before the stop
        )
    )
    assert report.clean_stop
    with Store(path) as store:
        for venue in VENUES:
            for symbol in (BTC, ETH):
                key = liquidation_key(venue, symbol)
                truth = streams.truth(venue, symbol)
                assert read_series(store, key).equals(truth)
                coverage = recording_coverage(store, key)
                last_sent = streams.sent_log(venue, symbol)["sent_ms"].max()
                assert ms(coverage["covered_end"][0]) >= last_sent
                assert recording_gaps(store, key).is_empty()
        runs = store.run("SELECT clean_stop FROM recording_runs")
    assert runs == [(True,)]
    assert report.inserted == sum(
        streams.truth(v, s).height for v in VENUES for s in (BTC, ETH)
    )


def test_a_hard_kill_loses_at_most_flush_seconds_and_a_restart_resumes(
    feeds: tuple[Emulator, LiquidationStreams], tmp_path: Path
) -> None:
    emu, streams = feeds
    path, flush_ms = tmp_path / "s.duckdb", 300

    async def kill() -> int:
        task = asyncio.ensure_future(
            record_liquidations_async(
                path,
                VENUES,
                [BTC],
                stop=asyncio.Event(),
                flush_seconds=flush_ms / 1000,
                base_url=emu.base_url,
                backoff=FAST,
            )
        )
        await wait_for(lambda: sent_at_least(streams, 80, VENUES))
        await asyncio.sleep(0.45)  # mid-way between flushes, with data in flight
        killed = int(time.time() * 1000)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return killed

    killed = run(kill())
    time.sleep(0.3)  # the recorder stays down a while (and the emulator settles)
    lost: dict[str, pl.DataFrame] = {}
    with Store(path) as store:
        assert store.run("SELECT clean_stop FROM recording_runs") == [(False,)]
        for venue in VENUES:
            key = liquidation_key(venue, BTC)
            truth, stored = streams.truth(venue, BTC), read_series(store, key)
            assert stored.height > 0 and missing(stored, truth).is_empty()
            lost[venue] = missing(truth, stored)
            sent = streams.sent_log(venue, BTC).join(lost[venue].select(TS), on=TS)
            assert (sent["sent_ms"] > killed - flush_ms - TOLERANCE_MS).all()
            end = ms(recording_coverage(store, key)["covered_end"][0])
            assert killed - flush_ms - TOLERANCE_MS <= end <= killed

    streams.replay_last = 200  # stored and lost liquidations come again
    mark = dict(streams.sent_count)
    report = run(
        record(
            emu,
            streams,
            path,
            VENUES,
            [BTC],
            until=lambda: all(streams.sent_count[v] >= mark[v] + 60 for v in VENUES),
        )
    )
    assert report.run_id == 2 and report.received > report.inserted
    with Store(path) as store:
        for venue in VENUES:
            key = liquidation_key(venue, BTC)
            truth, stored = streams.truth(venue, BTC), read_series(store, key)
            assert stored.select(LIQUIDATION_EVENTS.key).is_unique().all()
            still_lost = missing(truth, stored)  # replays may bring some back
            assert missing(still_lost, lost[venue]).is_empty()
            gaps = recording_gaps(store, key)
            assert gaps[REASON].to_list() == [NOT_RUNNING]
            coverage = recording_coverage(store, key)
            assert coverage.height == 2
            never_stored = pl.concat(
                [missing(streams.happened(venue, BTC), truth), still_lost]
            )
            assert outside_gaps(inside_coverage(never_stored, coverage)[TS], gaps) == []


# --- bounded memory ---------------------------------------------------------------
def _only(kind: type[T]) -> T:
    gc.collect()  # earlier runs' objects must be garbage by now
    (found,) = [o for o in gc.get_objects() if isinstance(o, kind)]
    return found


def test_memory_stays_bounded_over_100k_liquidations(tmp_path: Path) -> None:
    cap, total = 5_000, 100_000
    with Emulator() as emu:
        streams = install_liquidation_streams(
            emu, events_per_second=20_000, tick_s=0.01, keep_history=False
        )

        async def go() -> tuple[RecordingReport, list[dict[str, int]]]:
            stop, samples = asyncio.Event(), []
            task = asyncio.ensure_future(
                record_liquidations_async(
                    tmp_path / "s.duckdb",
                    ["bybit"],
                    [BTC, ETH, "SOL/USDT:USDT"],
                    stop=stop,
                    flush_seconds=0.5,
                    max_pending_rows=cap,
                    base_url=emu.base_url,
                    backoff=FAST,
                )
            )
            await wait_for(lambda: streams.sent_count["bybit"] >= 10_000)
            pending, stream = _only(_Pending), _only(LiquidationStream)
            (client,) = stream.exchange.clients.values()

            def sample() -> None:
                ccxt_state = client.futures, client.rejections, client.subscriptions
                samples.append(
                    {
                        "received": sum(pending.received.values()),
                        "buffered": pending.size,
                        "objects": len(gc.get_objects()),
                        "ccxt_cache": len(stream.exchange.liquidations),
                        "ccxt_state": sum(len(d) for d in ccxt_state),
                    }
                )

            while streams.sent_count["bybit"] < total:
                sample()
                await asyncio.sleep(0.25)
            streams.paused = True  # let the recorder catch up, then stop
            await asyncio.sleep(0.1)  # a tick in progress still sends
            await wait_for(
                lambda: sum(pending.received.values()) == streams.sent_count["bybit"]
            )
            sample()
            stop.set()
            return await task, samples

        report, samples = run(go())
    assert report.received == streams.sent_count["bybit"] >= total
    assert report.inserted == report.received  # every liquidation is distinct
    assert report.peak_pending_rows < cap + 100  # one message past the cap at most
    assert samples[-1]["received"] - samples[0]["received"] > 80_000
    assert all(s["buffered"] < cap + 100 for s in samples)
    assert all(s["ccxt_cache"] <= 1 and s["ccxt_state"] <= 10 for s in samples)
    growth = samples[-1]["objects"] - samples[0]["objects"]
    assert growth < 5_000, samples  # no per-liquidation objects kept
    with Store(tmp_path / "s.duckdb") as store:
        assert store.one("SELECT count(*) FROM liquidation_events") == (
            report.received,
        )


# --- notes, entry points, errors ----------------------------------------------------
def test_binance_series_notes_its_one_per_second_limit(
    feeds: tuple[Emulator, LiquidationStreams], tmp_path: Path
) -> None:
    emu, streams = feeds
    path = tmp_path / "s.duckdb"
    run(
        record(
            emu,
            streams,
            path,
            ["binance", "okx"],
            [BTC],
            until=lambda: sent_at_least(streams, 20, ["binance", "okx"]),
        )
    )
    with Store(path) as store:
        notes = {
            row["venue"]: json.loads(row["notes"])
            for row in list_series(store).iter_rows(named=True)
        }
        info = series_info(store).filter(pl.col("venue") == "binance")["notes"][0]
    assert (
        "at most one liquidation per symbol per second"
        in notes["binance"]["limitation"]
    )
    assert "limitation" not in notes["okx"]
    assert "contracts (sz) x ctVal" in notes["okx"]["quantity"]
    assert "limitation: Binance publishes at most one liquidation" in info


def test_the_blocking_entry_point_stops_on_a_threading_event(
    feeds: tuple[Emulator, LiquidationStreams], tmp_path: Path
) -> None:
    emu, streams = feeds
    stop = threading.Event()

    def halt() -> None:  # what a SIGINT handler would do, after pausing the venue
        streams.paused = True
        time.sleep(0.2)
        stop.set()

    threading.Timer(1.0, halt).start()
    report = record_liquidations(
        tmp_path / "s.duckdb",
        ["okx"],
        [BTC],
        stop=stop,
        flush_seconds=0.2,
        base_url=emu.base_url,
        backoff=FAST,
    )
    assert report.clean_stop and report.inserted == streams.truth("okx", BTC).height > 0
    (series,) = report.series
    assert series.covered_start is not None and series.covered_end is not None
    assert series.received == series.inserted and series.gaps == 0


@pytest.mark.parametrize(
    ("venues", "symbols", "options", "message"),
    [
        (["kraken"], [BTC], {}, "no liquidation stream for venue 'kraken'"),
        ([], [BTC], {}, "no venue to record"),
        (["okx"], [], {}, "no symbol to record on okx"),
        (["okx"], ["BTC/USDT"], {}, "not a perpetual"),
        (["okx"], {"bybit": [BTC]}, {}, "no symbol to record on okx"),
        (["okx"], [BTC], {"flush_seconds": 0}, "flush_seconds must be > 0"),
    ],
)
def test_bad_arguments_fail_before_any_connection(
    tmp_path: Path,
    venues: list[str],
    symbols: Any,
    options: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        run(
            record_liquidations_async(
                tmp_path / "s.duckdb",
                venues,
                symbols,
                stop=asyncio.Event(),
                base_url="http://127.0.0.1:9",
                **options,
            )
        )
    assert not (tmp_path / "s.duckdb").exists()


@pytest.mark.parametrize(
    ("faults", "symbols", "error", "message"),
    [
        ([], ["DOGE/USDT:USDT"], UnsupportedSymbolError, "okx lists no linear"),
        (
            [Fault("451", match=REST["okx"])],
            [BTC],
            SourceError,
            "okx refuses requests from this location",
        ),
        (
            [Fault("503", match=REST["okx"], times=50)],
            [BTC],
            SourceError,
            "gave up after 12 attempts",
        ),
    ],
)
def test_startup_errors_write_nothing(
    feeds: tuple[Emulator, LiquidationStreams],
    tmp_path: Path,
    faults: list[Fault],
    symbols: list[str],
    error: type[Exception],
    message: str,
) -> None:
    emu, _ = feeds
    emu.inject(*faults)
    with pytest.raises(error, match=message):
        run(
            record_liquidations_async(
                tmp_path / "s.duckdb",
                ["bybit", "okx"],
                symbols,
                stop=asyncio.Event(),
                base_url=emu.base_url,
                backoff=FAST,
            )
        )
    assert not (tmp_path / "s.duckdb").exists()


def test_a_refused_subscription_ends_the_run_with_a_clear_error(
    feeds: tuple[Emulator, LiquidationStreams], tmp_path: Path
) -> None:
    emu, streams = feeds
    streams.reject.add("ETHUSDT")
    path = tmp_path / "s.duckdb"
    with pytest.raises(SourceError, match="bybit refused the allLiquidation"):
        run(record(emu, streams, path, ["bybit"], [BTC, ETH], until=lambda: False))
    with Store(path) as store:
        assert store.run("SELECT clean_stop FROM recording_runs") == [(False,)]


def test_reading_coverage_of_an_unknown_series(store: Store) -> None:
    key = liquidation_key("okx", BTC)
    with pytest.raises(StoreError, match="holds no series"):
        recording_gaps(store, key)
    with pytest.raises(StoreError, match="holds no series"):
        recording_coverage(store, key)


def test_other_processes_can_read_the_store_while_recording(
    feeds: tuple[Emulator, LiquidationStreams], tmp_path: Path
) -> None:
    import subprocess
    import sys

    emu, streams = feeds
    path = tmp_path / "s.duckdb"
    stop = threading.Event()
    reads: list[str] = []
    reader_code = (
        "import sys; from rallylens.store import Store, list_series\n"
        "with Store(sys.argv[1], read_only=True, wait_seconds=10) as s:\n"
        "    print(list_series(s).height)"
    )

    def read_while_recording() -> None:
        time.sleep(0.5)
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", reader_code, str(path)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            reads.append(done.stdout.strip() or done.stderr[-300:])
        streams.paused = True
        time.sleep(0.2)
        stop.set()

    reader = threading.Thread(target=read_while_recording)
    reader.start()
    report = record_liquidations(
        path,
        ["okx"],
        [BTC],
        stop=stop,
        flush_seconds=0.2,
        base_url=emu.base_url,
        backoff=FAST,
    )
    reader.join()
    assert reads == ["1", "1"]  # the recorder did not hold the file between flushes
    assert report.clean_stop and report.inserted == streams.truth("okx", BTC).height
