"""ccxt plumbing: URL rewriting, retries against the emulator, time paging."""

from __future__ import annotations

import socket

import pytest

from rallylens.exceptions import RateLimitError, SourceError
from rallylens.sources._ccxt import (
    RetryPolicy,
    VenueUnreachableError,
    call_with_retries,
    make_exchange,
    paginate_by_time,
    rewrite_urls,
)
from tests.emulator import Emulator, Fault, Reply

HOST = "api.binance.com"


def test_rewrite_urls_keeps_the_host_as_first_segment() -> None:
    urls = {
        "public": "https://api.binance.com/api/v3",
        "nested": {"ws": "wss://stream.binance.com:9443/ws"},
        "doc": "not a url",
    }
    rewrite_urls(urls, "http://127.0.0.1:9000/")
    assert urls == {
        "public": "http://127.0.0.1:9000/api.binance.com/api/v3",
        "nested": {"ws": "ws://127.0.0.1:9000/stream.binance.com:9443/ws"},
        "doc": "not a url",
    }


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def emu() -> Emulator:
    with Emulator() as server:
        server.route(HOST, "/api/v3/time", lambda q, f: Reply({"serverTime": 1}))
        yield server


def client(emu: Emulator):  # type: ignore[no-untyped-def]
    return make_exchange("binance", base_url=emu.base_url, timeout_ms=2000)


def call(emu: Emulator, sleeps: Sleeps, attempts: int = 4) -> object:
    exchange = client(emu)
    policy = RetryPolicy(attempts=attempts, base_delay_s=0.25, sleep=sleeps)
    return call_with_retries(
        exchange,
        exchange.publicGetTime,
        what="binance time",
        policy=policy,
        validate=lambda r: isinstance(r, dict) and "serverTime" in r,
    )


@pytest.mark.parametrize("kind", ["500", "502", "503", "truncated", "invalid"])
def test_transient_faults_are_retried_with_backoff(emu: Emulator, kind: str) -> None:
    emu.inject(Fault(kind, match="time", times=2))  # type: ignore[arg-type]
    sleeps = Sleeps()
    assert call(emu, sleeps) == {"serverTime": 1}
    assert sleeps.waits == [0.25, 0.5]


@pytest.mark.parametrize("kind", ["429", "418"])
def test_rate_limits_wait_retry_after(emu: Emulator, kind: str) -> None:
    emu.inject(Fault(kind, match="time", retry_after=7))  # type: ignore[arg-type]
    sleeps = Sleeps()
    assert call(emu, sleeps) == {"serverTime": 1}
    assert sleeps.waits == [7.0]


def test_timeouts_are_retried(emu: Emulator) -> None:
    emu.inject(Fault("timeout", match="time", delay_s=3.0))
    sleeps = Sleeps()
    assert call(emu, sleeps) == {"serverTime": 1}
    assert len(sleeps.waits) == 1


def test_rate_limit_that_never_ends(emu: Emulator) -> None:
    emu.inject(Fault("429", match="time", times=10))
    with pytest.raises(RateLimitError, match="kept rate-limiting after 3 attempts"):
        call(emu, Sleeps(), attempts=3)


def test_server_errors_that_never_end(emu: Emulator) -> None:
    emu.inject(Fault("503", match="time", times=10))
    with pytest.raises(SourceError, match="gave up after 3 attempts"):
        call(emu, Sleeps(), attempts=3)


def test_geo_block_is_not_retried(emu: Emulator) -> None:
    emu.inject(Fault("451", match="time", times=10))
    sleeps = Sleeps()
    with pytest.raises(SourceError, match="refuses requests from this location"):
        call(emu, sleeps)
    assert sleeps.waits == []


def test_unreachable_host_fails_fast() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exchange = make_exchange("binance", base_url=f"http://127.0.0.1:{port}")
    sleeps = Sleeps()
    with pytest.raises(VenueUnreachableError, match="cannot connect to binance"):
        call_with_retries(
            exchange,
            exchange.publicGetTime,
            what="binance time",
            policy=RetryPolicy(attempts=6, sleep=sleeps),
        )
    assert len(sleeps.waits) == 1


def rows(*stamps: int) -> list[dict[str, int]]:
    return [{"t": t} for t in stamps]


def test_paging_dedupes_overlap_and_stops_on_empty_page() -> None:
    pages = {0: rows(0, 1, 2), 3: rows(2, 3, 4, 5), 6: rows(6), 7: []}
    out = list(
        paginate_by_time(pages.__getitem__, 0, 100, ts_of=lambda r: r["t"], step_ms=1)
    )
    assert [[r["t"] for r in page] for page in out] == [[0, 1, 2], [3, 4, 5], [6]]


def test_paging_stops_at_end_and_filters_rows_past_it() -> None:
    asked = []

    def page(cursor: int) -> list[dict[str, int]]:
        asked.append(cursor)
        return rows(*range(cursor, cursor + 5))

    out = list(paginate_by_time(page, 0, 12, ts_of=lambda r: r["t"], step_ms=1))
    assert [r["t"] for p in out for r in p] == list(range(12))
    assert asked == [0, 5, 10]


def test_paging_reasks_a_page_that_skips_rows() -> None:
    answers = {0: [rows(3, 4), rows(0, 1, 2, 3, 4)], 5: [rows()]}

    def page(cursor: int) -> list[dict[str, int]]:
        return answers[cursor].pop(0)

    out = list(
        paginate_by_time(
            page, 0, 100, ts_of=lambda r: r["t"], step_ms=1, contiguous=True
        )
    )
    assert [r["t"] for p in out for r in p] == [0, 1, 2, 3, 4]


def test_paging_detects_a_venue_that_ignores_the_cursor() -> None:
    out = list(
        paginate_by_time(
            lambda c: rows(0, 1), 0, 100, ts_of=lambda r: r["t"], step_ms=1
        )
    )
    assert [r["t"] for p in out for r in p] == [0, 1]
