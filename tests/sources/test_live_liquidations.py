"""Live liquidation streams: wire parsing, errors, ccxt.pro against the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import ccxt
import ccxt.pro
import polars as pl
import pytest

from rallylens._typing import SeriesKind
from rallylens.exceptions import ConfigError, SourceError, UnsupportedSymbolError
from rallylens.schemas import LIQUIDATION_EVENTS, SeriesKey
from rallylens.sources.live_liquidations import (
    LIQUIDATION_VENUES,
    Backoff,
    LiquidationRow,
    LiquidationStream,
    fatal_error,
    liquidation_key,
    open_liquidation_exchange,
    parse_binance_force_order,
    parse_bybit_liquidation,
    parse_okx_liquidation,
    venue_spec,
)
from tests.emulator import Emulator, Fault
from tests.emulator.liquidations import LiquidationStreams, install_liquidation_streams

T = TypeVar("T")
FAST = Backoff(base_delay_s=0.01, max_delay_s=0.05, load_attempts=4)
VENUES = sorted(LIQUIDATION_VENUES)
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
REST = {
    "binance": r"fapi\.binance\.com/fapi/v1/exchangeInfo",
    "bybit": r"api\.bybit\.com/v5/market/instruments-info",
    "okx": r"www\.okx\.com/api/v5/public/instruments",
}


# --- known answers: wire payload -> canonical row ---------------------------------
ONE, USDT = Decimal(1), "USDT"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (  # a SELL order closes a long; price is the fill average, size the filled z
            {
                "S": "SELL",
                "p": "34855.00",
                "ap": "34959.70",
                "q": "2",
                "z": "1.437",
                "l": "0.4",
                "T": 1698871323059,
            },
            (1698871323059000, "long", 34959.7, 1.437, 50237.0889),
        ),
        (
            {
                "S": "BUY",
                "p": "9425.5",
                "ap": "9496.5",
                "z": "0.010",
                "T": 1591154240949,
            },
            (1591154240949000, "short", 9496.5, 0.01, 94.965),
        ),
    ],
)
def test_binance_force_order_known_answers(
    info: dict[str, Any], expected: LiquidationRow
) -> None:
    assert parse_binance_force_order(info, ONE, USDT) == [expected]


@pytest.mark.parametrize(
    ("side", "expected_side"), [("Buy", "long"), ("Sell", "short")]
)
def test_bybit_side_is_the_position_side(side: str, expected_side: str) -> None:
    info = {
        "T": 1739502302929,
        "s": "ROSEUSDT",
        "S": side,
        "v": "20000",
        "p": "0.04499",
    }
    assert parse_bybit_liquidation(info, ONE, USDT) == [
        (1739502302929000, expected_side, 0.04499, 20000.0, 899.8)
    ]


def test_okx_contracts_become_coins_exactly() -> None:
    # 3 contracts of 0.1 ETH are 0.3 ETH (3 * 0.1 in floats is 0.30000000000000004)
    info = {
        "details": [
            {
                "bkPx": "2279.42",
                "posSide": "long",
                "side": "sell",
                "sz": "3",
                "ts": "1692266434010",
            },
            {
                "bkPx": "2280.10",
                "posSide": "net",
                "side": "buy",
                "sz": "0.5",
                "ts": "1692266434011",
            },
            {
                "bkPx": "2281.00",
                "posSide": "",
                "side": "sell",
                "sz": "12",
                "ts": "1692266434012",
            },
        ],
        "instId": "ETH-USDT-SWAP",
    }
    assert parse_okx_liquidation(info, Decimal("0.1"), USDT) == [
        (1692266434010000, "long", 2279.42, 0.3, 683.826),
        (1692266434011000, "short", 2280.10, 0.05, 114.005),
        (1692266434012000, "long", 2281.0, 1.2, 2737.2),
    ]


def test_okx_keeps_every_detail_where_ccxt_keeps_the_first() -> None:
    item = {
        "details": [
            {
                "bkLoss": "0",
                "bkPx": "0.007831",
                "ccy": "",
                "posSide": "short",
                "side": "buy",
                "sz": "13",
                "ts": "1692266434010",
            },
            {
                "bkLoss": "0",
                "bkPx": "0.007840",
                "ccy": "",
                "posSide": "short",
                "side": "buy",
                "sz": "7",
                "ts": "1692266434020",
            },
        ],
        "instFamily": "IOST-USDT",
        "instId": "IOST-USDT-SWAP",
        "instType": "SWAP",
        "uly": "IOST-USDT",
    }
    ours = parse_okx_liquidation(item, Decimal("10"), USDT)
    assert [r[3] for r in ours] == [130.0, 70.0]
    theirs = ccxt.pro.okx().parse_ws_liquidation(item)
    assert theirs["contracts"] == 13  # ccxt read details[0] only


def test_notional_is_null_for_a_non_usd_quote() -> None:
    info = {"T": 1, "S": "Buy", "v": "2", "p": "0.05"}
    assert parse_bybit_liquidation(info, ONE, "BTC") == [
        (1000, "long", 0.05, 2.0, None)
    ]


@pytest.mark.parametrize(
    ("info", "error"),
    [
        ({"S": "Buy", "v": "2", "p": "0.05"}, KeyError),  # no time
        ({"T": 1, "S": "Buy", "v": "2", "p": "0"}, ValueError),
        ({"T": 1, "S": "Buy", "v": "-2", "p": "1"}, ValueError),
        ({"T": "soon", "S": "Buy", "v": "2", "p": "1"}, ValueError),
    ],
)
def test_malformed_entries_raise(info: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_bybit_liquidation(info, ONE, USDT)


def test_backoff_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base_delay_s=0.5, max_delay_s=4.0)
    assert [backoff.delay(k) for k in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.delay(10_000) == 4.0
    with pytest.raises(ConfigError, match="base_delay_s"):
        Backoff(base_delay_s=0)


@pytest.mark.parametrize(
    ("exc", "expected", "text"),
    [
        (ccxt.BadSymbol("nope"), UnsupportedSymbolError, "does not list"),
        (
            ccxt.ExchangeNotAvailable("okx GET x 451 Unavailable"),
            SourceError,
            "refuses requests from this location",
        ),
        (
            ccxt.NetworkError("451, message='Invalid response status'"),
            SourceError,
            "HTTP 451",
        ),
        (ccxt.AuthenticationError("key"), SourceError, "credentials"),
        (ccxt.ExchangeError("bad topic"), SourceError, "answered with an error"),
        (ccxt.RequestTimeout("slow"), None, ""),
        (
            ccxt.NetworkError("Connection closed by remote server, closing code 1000"),
            None,
            "",
        ),
        (ccxt.RateLimitExceeded("429 Too Many Requests"), None, ""),
    ],
)
def test_fatal_errors_are_told_from_transient_ones(
    exc: Exception, expected: type[Exception] | None, text: str
) -> None:
    error = fatal_error(exc, "okx", "what")
    if expected is None:
        assert error is None
    else:
        assert type(error) is expected and text in str(error)


def test_venues_and_keys() -> None:
    assert liquidation_key("okx", BTC) == SeriesKey(
        "okx", BTC, SeriesKind.LIQUIDATION_EVENTS, "event"
    )
    with pytest.raises(ConfigError, match="binance, bybit, okx"):
        venue_spec("kraken")
    assert (
        "one liquidation per symbol per second"
        in venue_spec("binance").notes["limitation"]
    )


# --- against the emulator -----------------------------------------------------------
class Collect:
    """A sink keeping everything."""

    def __init__(self) -> None:
        self.rows: dict[SeriesKey, list[LiquidationRow]] = {}
        self.gaps: list[tuple[str, int, int, str]] = []

    def add_rows(self, key: SeriesKey, rows: list[LiquidationRow]) -> None:
        self.rows.setdefault(key, []).extend(rows)

    def add_gap(self, venue: str, start_ms: int, end_ms: int, reason: str) -> None:
        self.gaps.append((venue, start_ms, end_ms, reason))

    def frame(self, key: SeriesKey) -> pl.DataFrame:
        frame = pl.DataFrame(
            self.rows.get(key, []),
            schema={
                c: pl.Int64() if c == "ts" else d
                for c, d in LIQUIDATION_EVENTS.columns.items()
            },
            orient="row",
        )
        frame = frame.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
        return frame.sort(list(LIQUIDATION_EVENTS.key))


@pytest.fixture
def feeds() -> Iterator[tuple[Emulator, LiquidationStreams]]:
    with Emulator() as emu:
        streams = install_liquidation_streams(
            emu, events_per_second=300, tick_s=0.02, binance_min_interval_ms=10
        )
        yield emu, streams


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the emulator"
        await asyncio.sleep(0.02)


async def follow(
    emu: Emulator,
    streams: LiquidationStreams,
    venue: str,
    symbols: list[str],
    *,
    sent: int = 60,
    timeout_ms: int = 2000,
) -> tuple[LiquidationStream, Collect]:
    """Run a stream until ``sent`` liquidations went out, then stop it quietly."""
    sink = Collect()
    exchange = open_liquidation_exchange(
        venue, base_url=emu.base_url, timeout_ms=timeout_ms
    )
    stream = LiquidationStream(venue, exchange, symbols, sink, backoff=FAST)
    stop = asyncio.Event()
    try:
        await stream.load()
        task = asyncio.ensure_future(stream.run(stop))
        await until(lambda: streams.sent_count[venue] >= sent or task.done())
        streams.paused = True
        await asyncio.sleep(0.15)  # let what was sent arrive
        stop.set()
        await task
    finally:
        await stream.close()
    return stream, sink


@pytest.mark.parametrize("venue", VENUES)
def test_stream_delivers_exactly_what_was_sent(
    feeds: tuple[Emulator, LiquidationStreams], venue: str
) -> None:
    emu, streams = feeds
    stream, sink = run(follow(emu, streams, venue, [BTC, ETH], sent=120))
    for symbol in (BTC, ETH):
        truth = streams.truth(venue, symbol)
        assert truth.height > 10
        assert sink.frame(liquidation_key(venue, symbol)).equals(truth)
    assert set(sink.rows) == {liquidation_key(venue, s) for s in (BTC, ETH)}
    assert stream.malformed == 0 and not sink.gaps


def test_okx_messages_with_several_details_lose_none(
    feeds: tuple[Emulator, LiquidationStreams],
) -> None:
    emu, streams = feeds
    streams.max_details = 8
    streams.tick_s = 0.2  # several liquidations of one swap per message
    _, sink = run(follow(emu, streams, "okx", [BTC, ETH, "SOL/USDT:USDT"], sent=150))
    for symbol in (BTC, ETH, "SOL/USDT:USDT"):
        assert sink.frame(liquidation_key("okx", symbol)).equals(
            streams.truth("okx", symbol)
        )


def test_a_server_close_becomes_a_gap(
    feeds: tuple[Emulator, LiquidationStreams],
) -> None:
    emu, streams = feeds
    emu.inject(Fault("disconnect", match=r"stream\.bybit\.com", times=2, rows=4))
    stream, sink = run(follow(emu, streams, "bybit", [BTC, ETH], sent=150))
    for symbol in (BTC, ETH):
        assert sink.frame(liquidation_key("bybit", symbol)).equals(
            streams.truth("bybit", symbol)
        )
    closed = [c for c in streams.venue_connections("bybit")]
    assert [c.closed_by_fault for c in closed] == [True, True, False]
    assert len(sink.gaps) == 2 and stream.reconnects == 2
    for (_, start, end, reason), old, new in zip(
        sink.gaps, closed[:-1], closed[1:], strict=True
    ):
        assert "closed by bybit (code 1000)" in reason
        assert old.closed_ms is not None and new.subscribed_ms is not None
        assert old.closed_ms - 5 <= start <= old.closed_ms + 100  # the close frame
        assert new.subscribed_ms - 5 <= end <= new.subscribed_ms + 100  # the answer


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("symbol", ["DOGE/USDT:USDT", "BTC/USDT", "BTC/USD:BTC"])
def test_a_symbol_the_venue_does_not_list(
    feeds: tuple[Emulator, LiquidationStreams], venue: str, symbol: str
) -> None:
    emu, _ = feeds

    async def load() -> None:
        exchange = open_liquidation_exchange(venue, base_url=emu.base_url)
        stream = LiquidationStream(venue, exchange, [BTC, symbol], Collect())
        try:
            await stream.load()
        finally:
            await stream.close()

    with pytest.raises(UnsupportedSymbolError, match=f"{venue} lists no linear"):
        run(load())


async def load_markets(emu: Emulator, venue: str, backoff: Backoff = FAST) -> int:
    exchange = open_liquidation_exchange(venue, base_url=emu.base_url, timeout_ms=400)
    stream = LiquidationStream(venue, exchange, [BTC], Collect(), backoff=backoff)
    try:
        await stream.load()
        return len(exchange.markets)
    finally:
        await stream.close()


FAULTS = ["429", "418", "500", "502", "503", "truncated", "invalid", "timeout", "slow"]


@pytest.mark.parametrize("venue", VENUES)
def test_market_list_survives_every_fault(
    feeds: tuple[Emulator, LiquidationStreams], venue: str
) -> None:
    emu, _ = feeds
    for kind in FAULTS:
        delay = {"slow": 0.1, "timeout": 0.6}.get(kind, 0.0)
        emu.inject(Fault(kind, match=REST[venue], delay_s=delay))  # type: ignore[arg-type]
    backoff = Backoff(base_delay_s=0.01, max_delay_s=0.01, load_attempts=12)
    assert run(load_markets(emu, venue, backoff)) == 3
    assert not emu.pending_faults()
    seen = {r.fault for r in emu.requests_to(REST[venue])}
    assert seen >= set(FAULTS) - {"timeout"}  # a timed-out request is not logged


@pytest.mark.parametrize("venue", VENUES)
def test_a_geo_block_is_not_retried(
    feeds: tuple[Emulator, LiquidationStreams], venue: str
) -> None:
    emu, _ = feeds
    emu.inject(Fault("451", match=REST[venue], times=5))
    with pytest.raises(SourceError, match="refuses requests from this location"):
        run(load_markets(emu, venue))
    assert emu.pending_faults()[0].times >= 3  # no retry (Bybit asks twice at once)


def test_a_venue_that_keeps_failing_gives_up(
    feeds: tuple[Emulator, LiquidationStreams],
) -> None:
    emu, _ = feeds
    emu.inject(Fault("503", match=REST["okx"], times=10))
    with pytest.raises(SourceError, match="gave up after 3 attempts"):
        run(load_markets(emu, "okx", Backoff(base_delay_s=0.01, load_attempts=3)))


@pytest.mark.parametrize(
    ("venue", "refused"),
    [("binance", "!forceOrder@arr"), ("bybit", "ETHUSDT"), ("okx", "SWAP")],
)
def test_a_refused_subscription_fails_clearly(
    feeds: tuple[Emulator, LiquidationStreams], venue: str, refused: str
) -> None:
    emu, streams = feeds
    streams.reject.add(refused)
    with pytest.raises(SourceError, match=f"{venue} refused the"):
        run(follow(emu, streams, venue, [BTC, ETH], sent=10_000))
