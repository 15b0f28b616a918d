"""Live liquidation streams through ccxt.pro websockets.

Three public streams, one connection per venue:

============  =====================  ==========================================
venue         ccxt.pro call          wire subscription
============  =====================  ==========================================
``binance``   ``binanceusdm``        ``!forceOrder@arr`` on
              ``watch_liquidations_  ``fstream.binance.com/market/ws``: every
              for_symbols([])``      USDⓈ-M symbol, filtered here
``bybit``     ``bybit``              ``allLiquidation.{symbol}`` on
              ``watch_liquidations`` ``stream.bybit.com/v5/public/linear``,
              (one per symbol)       one topic per symbol
``okx``       ``okx`` ``watch_       ``liquidation-orders`` / ``SWAP`` on
              liquidations_for_      ``ws.okx.com/ws/v5/public``: every swap,
              symbols(symbols)``     filtered here
============  =====================  ==========================================

ccxt resolves a watch call with the one liquidation that completed its future
and keeps the others only in ``exchange.liquidations``; OKX's parser also
reads only the first of an instrument's ``details``. So a
:class:`LiquidationStream` does not use the watch calls' return values: it
hands ccxt a cache whose ``append`` passes every parsed liquidation (with its
raw ``info``) to the stream, keeps a watch call pending only to hold the
subscription and surface errors, and follows ccxt's connection callbacks
(``handle_message``, ``on_close``, ``on_error``) to know exactly when the
stream was live. Each disconnected period becomes a gap
``[last frame or close, first frame of the new connection)``.

Raw payloads, trimmed::

    binance {"e": "forceOrder", "E": 1698871323061, "o": {"s": "BTCUSDT",
             "S": "BUY", "q": "1.437", "p": "35100.81", "ap": "34959.70",
             "X": "FILLED", "l": "1.437", "z": "1.437", "T": 1698871323059}}
    bybit   {"topic": "allLiquidation.ROSEUSDT", "type": "snapshot", "data":
             [{"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000",
             "p": "0.04499"}]}
    okx     {"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
             "data": [{"details": [{"bkPx": "0.007831", "posSide": "short",
             "side": "buy", "sz": "13", "ts": "1692266434010"}],
             "instId": "IOST-USDT-SWAP"}]}
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from rallylens._typing import SeriesKind
from rallylens.exceptions import ConfigError, SourceError, UnsupportedSymbolError
from rallylens.schemas import SeriesKey
from rallylens.sources._ccxt import MalformedPayloadError, final_error, make_exchange

__all__ = [
    "LIQUIDATION_VENUES",
    "Backoff",
    "LiquidationRow",
    "LiquidationSink",
    "LiquidationStream",
    "VenueSpec",
    "fatal_error",
    "liquidation_key",
    "open_liquidation_exchange",
    "parse_binance_force_order",
    "parse_bybit_liquidation",
    "parse_okx_liquidation",
    "venue_spec",
]

log = logging.getLogger(__name__)

LiquidationRow = tuple[int, str, float, float, float | None]
"""``(ts_us, side, price, quantity, notional_usd)`` of one liquidation.

``side`` is the position liquidated (``long``/``short``), ``quantity`` in base
units, ``notional_usd`` price x quantity (USDT and USDC counted as USD)."""

_USD_QUOTES = frozenset({"USD", "USDT", "USDC"})


def _row(
    ts_ms: object, long: bool, price: str, qty: Decimal, quote: str
) -> LiquidationRow:
    ts = int(str(ts_ms))
    dec_price = Decimal(price)
    if ts <= 0 or dec_price <= 0 or qty <= 0:
        raise ValueError(f"non-positive time, price or size ({ts}, {price}, {qty})")
    notional = float(dec_price * qty) if quote in _USD_QUOTES else None
    side = "long" if long else "short"
    return (ts * 1000, side, float(dec_price), float(qty), notional)


def parse_binance_force_order(
    info: Mapping[str, Any], contract_size: Decimal, quote: str
) -> list[LiquidationRow]:
    """One Binance ``forceOrder`` order (the ``o`` object) as a row.

    ``S`` is the liquidation order's side: a ``SELL`` closes a long. The price
    is the average fill ``ap`` (``p`` is the order's limit), the quantity the
    filled ``z`` in base units (USDⓈ-M contracts are one coin), the time the
    trade time ``T`` in ms.

    Examples
    --------
    >>> parse_binance_force_order(
    ...     {"S": "SELL", "ap": "34959.70", "z": "1.437", "T": 1698871323059},
    ...     Decimal(1), "USDT")
    [(1698871323059000, 'long', 34959.7, 1.437, 50237.0889)]
    """
    qty = Decimal(info["z"]) * contract_size
    return [_row(info["T"], info["S"] == "SELL", info["ap"], qty, quote)]


def parse_bybit_liquidation(
    info: Mapping[str, Any], contract_size: Decimal, quote: str
) -> list[LiquidationRow]:
    """One Bybit ``allLiquidation`` entry as a row.

    Bybit's ``S`` is the *position* side: ``Buy`` means a long was
    liquidated. ``v`` is in base units on linear contracts, ``p`` the price,
    ``T`` the time in ms.
    """
    qty = Decimal(info["v"]) * contract_size
    return [_row(info["T"], info["S"] == "Buy", info["p"], qty, quote)]


def parse_okx_liquidation(
    info: Mapping[str, Any], contract_size: Decimal, quote: str
) -> list[LiquidationRow]:
    """Every ``details`` entry of one OKX ``liquidation-orders`` item.

    ``sz`` counts contracts of ``ctVal`` base units (0.01 BTC on
    BTC-USDT-SWAP), ``bkPx`` is the bankruptcy price. ``posSide`` names the
    position when it is ``long``/``short``; otherwise the order ``side`` tells
    (a ``sell`` closes a long).
    """
    rows = []
    for detail in info["details"]:
        pos_side = detail.get("posSide")
        long = pos_side == "long" if pos_side in ("long", "short") else None
        if long is None:
            long = detail["side"] == "sell"
        qty = Decimal(detail["sz"]) * contract_size
        rows.append(_row(detail["ts"], long, detail["bkPx"], qty, quote))
    return rows


def _binance_refusal(message: Any) -> str | None:
    error = message.get("error") if isinstance(message, dict) else None
    return str(error.get("msg", error)) if isinstance(error, dict) else None


def _bybit_refusal(message: Any) -> str | None:
    if isinstance(message, dict) and message.get("success") is False:
        return str(message.get("ret_msg"))
    return None


def _okx_refusal(message: Any) -> str | None:
    if isinstance(message, dict) and message.get("event") == "error":
        return f"{message.get('msg')} (code {message.get('code')})"
    return None


WatchFactory = Callable[[Any, Sequence[str]], list[Callable[[], Awaitable[Any]]]]
Parser = Callable[[Mapping[str, Any], Decimal, str], list[LiquidationRow]]


@dataclass(frozen=True)
class VenueSpec:
    """How one venue's liquidation stream is reached and read.

    Attributes
    ----------
    ccxt_id : str
        ccxt.pro exchange class.
    options : Mapping[str, object]
        ccxt options (market types ``load_markets`` fetches).
    stream : str
        The venue's channel, for messages and notes.
    parse : Parser
        Raw ``info`` of one ccxt liquidation to rows.
    watch : WatchFactory
        The watch calls that keep the subscription: ``(exchange, symbols)``
        to zero-argument coroutine factories.
    refusal : Callable[[Any], str | None]
        The venue's error message if a frame refuses a request (ccxt leaves
        a refused Binance subscription waiting forever).
    notes : Mapping[str, str]
        Written into each recorded series' notes.
    """

    ccxt_id: str
    options: Mapping[str, object]
    stream: str
    parse: Parser
    watch: WatchFactory
    refusal: Callable[[Any], str | None]
    notes: Mapping[str, str] = field(default_factory=dict)


LIQUIDATION_VENUES: Mapping[str, VenueSpec] = {
    "binance": VenueSpec(
        "binanceusdm",
        {},
        "!forceOrder@arr",
        parse_binance_force_order,
        lambda ex, symbols: [lambda: ex.watch_liquidations_for_symbols([])],
        _binance_refusal,
        {
            "recorded_from": "live websocket !forceOrder@arr (Binance USDⓈ-M)",
            "limitation": "Binance publishes at most one liquidation per symbol per "
            "second (the stream is a snapshot of the latest order in each 1000 ms); "
            "counts and totals are a lower bound",
        },
    ),
    "bybit": VenueSpec(
        "bybit",
        {"fetchMarkets": ["linear"]},
        "allLiquidation.{symbol}",
        parse_bybit_liquidation,
        lambda ex, symbols: [
            functools.partial(ex.watch_liquidations, symbol) for symbol in symbols
        ],
        _bybit_refusal,
        {"recorded_from": "live websocket allLiquidation (Bybit v5 linear)"},
    ),
    "okx": VenueSpec(
        "okx",
        {"fetchMarkets": ["swap"]},
        "liquidation-orders SWAP",
        parse_okx_liquidation,
        lambda ex, symbols: [
            functools.partial(ex.watch_liquidations_for_symbols, list(symbols))
        ],
        _okx_refusal,
        {
            "recorded_from": "live websocket liquidation-orders SWAP (OKX)",
            "quantity": "contracts (sz) x ctVal, in base units",
        },
    ),
}
"""Venues a liquidation recorder can follow, by store venue id."""


def liquidation_key(venue: str, market: str) -> SeriesKey:
    """Series key of a venue's recorded liquidations of ``market``."""
    return SeriesKey(venue, market, SeriesKind.LIQUIDATION_EVENTS, "event")


def venue_spec(venue: str) -> VenueSpec:
    """The :class:`VenueSpec` of ``venue``.

    Raises
    ------
    ConfigError
        If no liquidation stream is known for ``venue``.
    """
    try:
        return LIQUIDATION_VENUES[venue]
    except KeyError:
        raise ConfigError(
            f"no liquidation stream for venue {venue!r}; use one of "
            f"{', '.join(LIQUIDATION_VENUES)}"
        ) from None


def open_liquidation_exchange(
    venue: str, *, base_url: str | None = None, timeout_ms: int = 10_000
) -> Any:
    """A keyless ccxt.pro client for ``venue``'s liquidation stream."""
    spec = venue_spec(venue)
    return make_exchange(
        spec.ccxt_id,
        pro=True,
        base_url=base_url,
        timeout_ms=timeout_ms,
        options=spec.options,
    )


@dataclass(frozen=True)
class Backoff:
    """Reconnection policy of a live stream.

    Attributes
    ----------
    base_delay_s, max_delay_s : float
        Wait ``base * 2**k`` (capped at ``max``) before reconnect ``k``.
    reset_after_s : float
        A connection that lived this long resets ``k`` to 0.
    load_attempts : int
        Attempts at loading the venue's markets before giving up.
    """

    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    reset_after_s: float = 60.0
    load_attempts: int = 6

    def __post_init__(self) -> None:
        if not 0 < self.base_delay_s <= self.max_delay_s or self.load_attempts < 1:
            raise ConfigError(
                f"backoff needs 0 < base_delay_s <= max_delay_s and load_attempts >= 1"
                f", got {self}"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect number ``attempt`` (0-based)."""
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** min(attempt, 30)))


class LiquidationSink(Protocol):
    """Where a :class:`LiquidationStream` delivers what it sees."""

    def add_rows(self, key: SeriesKey, rows: list[LiquidationRow]) -> None:
        """Liquidations of one series, in arrival order."""
        ...

    def add_gap(self, venue: str, start_ms: int, end_ms: int, reason: str) -> None:
        """A period ``[start_ms, end_ms)`` the venue's stream was not live."""
        ...


def fatal_error(exc: BaseException, venue: str, what: str) -> SourceError | None:
    """The error to give up with, or None when reconnecting may help.

    :func:`rallylens.sources._ccxt.final_error`, with a bare 403 counted as a
    geo-block: a refused websocket handshake shows no body to tell.
    """
    return final_error(exc, venue, what, bare_403_is_geo=True)


@functools.cache
def _tap_class() -> type:
    from ccxt.async_support.base.ws.cache import ArrayCache

    class Tap(ArrayCache):  # type: ignore[misc]
        """ccxt's liquidation cache, passing every append on (keeps one item)."""

        def __init__(self, on_item: Callable[[Any], None]) -> None:
            super().__init__(1)
            self.on_item = on_item

        def append(self, item: Any) -> None:
            super().append(item)
            self.on_item(item)

    return Tap


def _now_ms() -> int:
    return int(time.time() * 1000)


class LiquidationStream:
    """One venue's liquidations for some symbols, kept live until stopped.

    Parameters
    ----------
    venue : str
        ``binance``, ``bybit`` or ``okx`` (see :data:`LIQUIDATION_VENUES`).
    exchange : ccxt.pro exchange
        From :func:`open_liquidation_exchange` (before any other use: the
        stream installs its callbacks on it).
    symbols : Sequence[str]
        Linear perpetuals in ccxt form (``BTC/USDT:USDT``).
    sink : LiquidationSink
        Receives rows and gaps, on the event loop's thread.
    backoff : Backoff, optional
        Reconnection policy.
    """

    def __init__(
        self,
        venue: str,
        exchange: Any,
        symbols: Sequence[str],
        sink: LiquidationSink,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.venue = venue
        self.spec = venue_spec(venue)
        self.exchange = exchange
        self.symbols = tuple(dict.fromkeys(symbols))
        self.keys = {s: liquidation_key(venue, s) for s in self.symbols}
        self.sink = sink
        self.backoff = backoff or Backoff()
        self.reconnects = 0
        self.malformed = 0
        self.first_up_ms: int | None = None
        self._sizes: dict[str, tuple[Decimal, str]] = {}
        self._live: object | None = None
        self._last_frame_ms = 0
        self._down_since: int | None = None
        self._down_reason: str | None = None
        self._closing = False
        self._failure: BaseException | None = None
        self._failed = asyncio.Event()
        self._install_hooks()

    # --- ccxt callbacks -------------------------------------------------------
    def _install_hooks(self) -> None:
        ex = self.exchange
        handle_message, on_close, on_error = ex.handle_message, ex.on_close, ex.on_error

        def hooked_message(client: Any, message: Any) -> None:
            self._saw_frame(client)
            refusal = self.spec.refusal(message)
            if refusal is not None:
                self._fail(
                    SourceError(
                        f"{self.venue} refused the {self.spec.stream} subscription "
                        f"({refusal}); check the symbols"
                    )
                )
            handle_message(client, message)

        def hooked_close(client: Any, code: Any) -> None:
            self._lost(
                client, f"closed by {self.venue} (code {code})", code in (1000, 1001)
            )
            on_close(client, code)

        def hooked_error(client: Any, error: Any) -> None:
            self._lost(client, f"{type(error).__name__}: {error}", False)
            on_error(client, error)

        ex.handle_message, ex.on_close, ex.on_error = (
            hooked_message,
            hooked_close,
            hooked_error,
        )
        ex.liquidations = _tap_class()(self._on_liquidation)

    def _saw_frame(self, client: object) -> None:
        now = _now_ms()
        if client is not self._live and not self._closing:
            if self._live is not None:  # ccxt replaced a client we saw no end of
                self._lost(self._live, "connection replaced", False)
            self._live = client
            if self.first_up_ms is None:
                self.first_up_ms = now
                log.info("%s liquidations: live", self.venue)
            elif self._down_since is not None:
                reason = f"disconnected: {self._down_reason or 'unknown'}"
                self.reconnects += 1
                self.sink.add_gap(self.venue, self._down_since, now, reason)
                log.info("%s liquidations: live again after %s", self.venue, reason)
            self._down_since, self._down_reason = None, None
        self._last_frame_ms = now

    def _lost(self, client: object, reason: str, clean: bool) -> None:
        if self._closing:
            return
        if client is not self._live:
            self._down_reason = self._down_reason or reason
            return
        self._live = None
        self._down_since = _now_ms() if clean else self._last_frame_ms
        self._down_reason = reason
        log.warning("%s liquidations: %s", self.venue, reason)

    def _on_liquidation(self, liquidation: Any) -> None:
        try:
            symbol = liquidation.get("symbol")
            key = self.keys.get(symbol)
            if key is None:
                return
            size, quote = self._sizes[symbol]
            rows = self.spec.parse(liquidation["info"], size, quote)
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            self.malformed += 1
            log.warning("%s: skipped a malformed liquidation (%r)", self.venue, exc)
            return
        try:
            self.sink.add_rows(key, rows)
        except Exception as exc:  # keep ccxt's receive loop alive; fail in run()
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self._failure = self._failure or exc
        self._failed.set()

    # --- lifecycle ------------------------------------------------------------
    async def load(self) -> None:
        """Load the venue's markets (with retries) and check every symbol.

        Raises
        ------
        UnsupportedSymbolError
            A symbol is not a linear perpetual the venue lists.
        SourceError
            The venue refused (geo-block, error) or kept failing.
        """
        what = f"loading {self.venue} markets"
        for attempt in range(self.backoff.load_attempts):
            try:  # ccxt turns a truncated or HTML answer into no market at all
                if not await self.exchange.load_markets(reload=attempt > 0):
                    raise MalformedPayloadError(f"{what}: the venue listed no market")
                break
            except Exception as exc:
                fatal = fatal_error(exc, self.venue, what)
                if fatal is not None:
                    raise fatal from exc
                if attempt + 1 == self.backoff.load_attempts:
                    raise SourceError(
                        f"{what}: gave up after {attempt + 1} attempts "
                        f"({type(exc).__name__}: {str(exc)[:200]}); the venue may be "
                        "down, try again later"
                    ) from exc
                log.info("%s: %s; retry %d", what, exc, attempt + 1)
                await asyncio.sleep(self.backoff.delay(attempt))
        self._check_symbols()

    def _check_symbols(self) -> None:
        markets = self.exchange.markets
        for symbol in self.symbols:
            market = markets.get(symbol)
            if market is None or not market.get("linear") or not market.get("swap"):
                listed = [
                    s for s, m in markets.items() if m.get("linear") and m.get("swap")
                ]
                raise UnsupportedSymbolError(
                    f"{self.venue} lists no linear perpetual {symbol!r}; record one "
                    f"of {', '.join(sorted(listed)[:8])}, ..."
                )
            size = Decimal(str(market.get("contractSize") or 1))
            self._sizes[symbol] = (size, str(market.get("quote")))

    async def run(self, stop: asyncio.Event) -> None:
        """Stay subscribed until ``stop`` is set, reconnecting with backoff.

        Raises
        ------
        SourceError
            On errors reconnecting cannot fix (geo-block, rejected subscription).
        """
        attempt = 0
        while not stop.is_set():
            began = time.monotonic()
            try:
                await self._watch(stop)
                return
            except Exception as exc:
                fatal = fatal_error(exc, self.venue, f"{self.venue} {self.spec.stream}")
                if fatal is not None:
                    raise fatal from exc
                if not _is_ccxt(exc):
                    raise
                if time.monotonic() - began >= self.backoff.reset_after_s:
                    attempt = 0
                delay = self.backoff.delay(attempt)
                attempt += 1
                log.warning("%s: %s; reconnecting in %.2fs", self.venue, exc, delay)
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass

    async def _watch(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        calls = self.spec.watch(self.exchange, self.symbols)
        tasks: list[asyncio.Future[Any]] = [asyncio.ensure_future(c()) for c in calls]
        stopper = loop.create_task(stop.wait())
        failed = loop.create_task(self._failed.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {*tasks, stopper, failed}, return_when=asyncio.FIRST_COMPLETED
                )
                if failed in done and self._failure is not None:
                    raise self._failure
                if stopper in done:
                    return
                for i, task in enumerate(tasks):
                    if task in done:
                        task.result()
                        tasks[i] = asyncio.ensure_future(calls[i]())
        finally:
            pending = [*tasks, stopper, failed]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def covered_until(self, now_ms: int) -> int | None:
        """End of the live time so far: ``now_ms`` while live, else when it ended."""
        if self.first_up_ms is None:
            return None
        return now_ms if self._live is not None else self._down_since

    async def close(self) -> None:
        """Close the connection (idempotent); the live time ends now."""
        if self._closing:
            return
        if self._live is not None:
            self._live, self._down_since = None, _now_ms()
        self._closing = True
        await self.exchange.close()


def _is_ccxt(exc: BaseException) -> bool:
    import ccxt

    return isinstance(exc, ccxt.BaseError)
