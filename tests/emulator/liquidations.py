"""Liquidation websocket streams of Binance USDⓈ-M, Bybit and OKX, played locally.

:func:`install_liquidation_streams` registers, on an :class:`Emulator`:

* the REST market lists ccxt's ``load_markets`` reads first:
  ``fapi.binance.com/fapi/v1/exchangeInfo`` (USDⓈ-M futures),
  ``api.bybit.com/v5/market/instruments-info?category=linear&limit=1000``
  (cursor pages; ccxt also asks ``status=PreLaunch``, answered with an empty
  list) and ``www.okx.com/api/v5/public/instruments?instType=SWAP``;
* the public websocket endpoints ccxt.pro dials once ``make_exchange`` has
  rewritten its URLs: ``fstream.binance.com/market/ws/<n>`` (ccxt appends a
  stream index), ``stream.bybit.com/v5/public/linear`` and
  ``ws.okx.com:443/ws/v5/public``.

Each endpoint answers subscriptions (and pings) the way the venue does, then
pushes liquidations in the venue's wire format, numbers as strings:

* Binance ``!forceOrder@arr`` (or ``<symbol>@forceOrder``): one
  ``{"e": "forceOrder", "E", "o": {"s", "S", "o", "f", "q", "p", "ap", "X",
  "l", "z", "T"}}`` object per liquidation, ``S`` the order side (``SELL``
  closes a long), at most one per symbol per ``binance_min_interval_ms``
  (1000 ms on the real snapshot stream);
* Bybit ``allLiquidation.<symbol>``: ``{"topic", "type": "snapshot", "ts",
  "data": [{"T", "s", "S", "v", "p"}, ...]}`` per symbol and tick, ``S`` the
  position side (``Buy`` = a long was liquidated), ``T`` a number;
* OKX ``liquidation-orders`` / ``SWAP``: ``{"arg", "data": [{"details":
  [{"bkLoss", "bkPx", "ccy", "posSide", "side", "sz", "ts"}], "instFamily",
  "instId", "instType", "uly"}]}`` for every swap, ``sz`` in contracts of
  ``ctVal`` coins, up to ``max_details`` details per instrument and message
  (ccxt's own parser reads only ``details[0]``).

Liquidations "happen" on a seeded schedule whether or not a client listens
(:meth:`LiquidationStreams.happened`); what connections actually sent is the
ground truth (:meth:`LiquidationStreams.truth`). The ``disconnect`` fault
(matched against ``host/path?query`` when a connection opens) closes that
connection after ``rows`` pushed messages.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import random
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from aiohttp import WSMsgType, web

from rallylens.schemas import (
    LIQUIDATION_EVENTS,
    NOTIONAL_USD,
    PRICE,
    QUANTITY,
    SIDE,
    TS,
)
from tests.emulator._server import Emulator, Reply

__all__ = [
    "BINANCE_WS_HOST",
    "BYBIT_WS_HOST",
    "INSTRUMENTS",
    "OKX_WS_HOST",
    "ConnectionLog",
    "Instrument",
    "LiquidationStreams",
    "VenueFeed",
    "install_liquidation_streams",
]

BINANCE_WS_HOST = "fstream.binance.com"
BYBIT_WS_HOST = "stream.bybit.com"
OKX_WS_HOST = "ws.okx.com:443"
VENUES = ("binance", "bybit", "okx")
_UTC = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Instrument:
    """One USDT-margined perpetual as a venue lists it."""

    symbol: str  # ccxt unified symbol
    venue_id: str  # BTCUSDT, BTC-USDT-SWAP
    base: str
    price: float  # level generated prices wander around
    price_decimals: int
    qty_decimals: int  # of the wire quantity (contracts on OKX)
    ct_val: str = "1"  # coins per contract (OKX ctVal)

    @property
    def tick(self) -> str:
        return _step(self.price_decimals)

    @property
    def lot(self) -> str:
        return _step(self.qty_decimals)


def _step(decimals: int) -> str:
    return f"{10.0**-decimals:.{decimals}f}"


def _perps(
    *rows: tuple[str, float, int, int], okx: bool = False
) -> tuple[Instrument, ...]:
    ct_vals = {"BTC": "0.01", "ETH": "0.1", "SOL": "1"}
    return tuple(
        Instrument(
            f"{base}/USDT:USDT",
            f"{base}-USDT-SWAP" if okx else f"{base}USDT",
            base,
            price,
            pdec,
            qdec,
            ct_vals[base] if okx else "1",
        )
        for base, price, pdec, qdec in rows
    )


INSTRUMENTS: dict[str, tuple[Instrument, ...]] = {
    "binance": _perps(
        ("BTC", 43_000.0, 1, 3), ("ETH", 2_300.0, 2, 3), ("SOL", 98.0, 3, 0)
    ),
    "bybit": _perps(
        ("BTC", 43_000.0, 1, 3), ("ETH", 2_300.0, 2, 2), ("SOL", 98.0, 3, 1)
    ),
    "okx": _perps(
        ("BTC", 43_000.0, 1, 2), ("ETH", 2_300.0, 2, 1), ("SOL", 98.0, 3, 0), okx=True
    ),
}
"""Markets each venue lists (and liquidates) in the emulator."""


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class _Event:
    seq: int
    inst: Instrument
    ts_ms: int
    long: bool  # a long position was liquidated
    price: str  # wire strings
    qty: str

    def canonical(self) -> tuple[int, str, float, float, float]:
        """(ts_us, side, price, quantity in coins, notional USD)."""
        coins = Decimal(self.qty) * Decimal(self.inst.ct_val)
        notional = Decimal(self.price) * coins
        side = "long" if self.long else "short"
        return (
            self.ts_ms * 1000,
            side,
            float(self.price),
            float(coins),
            float(notional),
        )


@dataclass(frozen=True)
class _Sent:
    venue: str
    sent_ms: int
    event: _Event


class VenueFeed:
    """Liquidations of one venue on a seeded schedule.

    Each instrument has its own generator (gaps of ``min_interval_ms`` plus an
    exponential draw), so what happens does not depend on when or how often
    connections poll. Several liquidations of one instrument may share a
    millisecond, never an identity (time, side, price, size).
    """

    def __init__(
        self,
        venue: str,
        *,
        seed: int,
        start_ms: int,
        events_per_second: float,
        min_interval_ms: int,
        keep_history: bool,
    ) -> None:
        self.venue = venue
        self.instruments = INSTRUMENTS[venue]
        self.min_interval_ms = min_interval_ms
        self.mean_gap_ms = 1000.0 * len(self.instruments) / events_per_second
        self.keep_history = keep_history
        self.happened: list[_Event] = []
        self.count = 0
        self.subscribers: list[_Connection] = []
        self._rngs = [
            random.Random(seed * 1_000_003 + zlib.crc32(f"{venue}:{i.symbol}".encode()))
            for i in self.instruments
        ]
        self._levels = [i.price for i in self.instruments]
        self._seen: list[tuple[int, set[tuple[bool, str, str]]]] = [
            (0, set()) for _ in self.instruments
        ]
        self._heap: list[tuple[float, int]] = []  # (time in ms, instrument index)
        for k in range(len(self.instruments)):
            self._schedule(k, start_ms)

    def _schedule(self, k: int, after_ms: float) -> None:
        draw = self._rngs[k].expovariate(1.0 / self.mean_gap_ms)
        heapq.heappush(self._heap, (after_ms + self.min_interval_ms + draw, k))

    def _draw(self, k: int, ts_ms: int) -> _Event:
        rng, inst = self._rngs[k], self.instruments[k]
        if self._seen[k][0] != ts_ms:
            self._seen[k] = (ts_ms, set())
        seen = self._seen[k][1]
        while True:
            self._levels[k] *= 1.0 + rng.gauss(0.0, 0.0015)
            long = rng.random() < 0.5
            price = f"{self._levels[k]:.{inst.price_decimals}f}"
            lots = max(1.0, rng.lognormvariate(0.0, 1.2) * 20)
            qty = f"{lots * 10.0**-inst.qty_decimals:.{inst.qty_decimals}f}"
            if (long, price, qty) not in seen:
                seen.add((long, price, qty))
                break
        self.count += 1
        return _Event(self.count, inst, ts_ms, long, price, qty)

    def advance(self, now_ms: int) -> None:
        """Let every liquidation due by ``now_ms`` happen; give it to subscribers."""
        while self._heap and self._heap[0][0] <= now_ms:
            at, k = heapq.heappop(self._heap)
            event = self._draw(k, int(at))
            self._schedule(k, at)
            if self.keep_history:
                self.happened.append(event)
            for conn in self.subscribers:
                if conn.wants(event):
                    conn.pending.append(event)


@dataclass
class ConnectionLog:
    """One websocket connection the emulator served (times in epoch ms)."""

    venue: str
    opened_ms: int
    subscribed_ms: int | None = None
    closed_ms: int | None = None
    closed_by_fault: bool = False
    messages: int = 0


@dataclass(eq=False)
class _Connection:
    venue: str
    ws: web.WebSocketResponse
    log: ConnectionLog
    all_symbols: bool = False
    symbols: set[str] = field(default_factory=set)  # venue ids
    pending: list[_Event] = field(default_factory=list)
    close_after: int | None = None

    def wants(self, event: _Event) -> bool:
        return self.all_symbols or event.inst.venue_id in self.symbols

    async def send(self, payload: object) -> None:
        await self.ws.send_str(json.dumps(payload))


class LiquidationStreams:
    """What :func:`install_liquidation_streams` set up: feeds, truth and logs.

    Attributes
    ----------
    paused : bool
        While set, connections push nothing (liquidations still happen).
    reject : set[str]
        Venue ids (``SOLUSDT``), ``!forceOrder@arr`` or ``SWAP`` whose
        subscription the venue refuses.
    replay_last : int
        A new subscription first receives again the venue's last N sent
        liquidations (duplicates a recorder must not store twice).
    """

    def __init__(
        self,
        emu: Emulator,
        feeds: dict[str, VenueFeed],
        *,
        tick_s: float,
        max_details: int,
    ) -> None:
        self.emu = emu
        self.feeds = feeds
        self.tick_s = tick_s
        self.max_details = max_details
        self.sent: list[_Sent] = []
        self.sent_count: dict[str, int] = dict.fromkeys(feeds, 0)
        self.connections: list[ConnectionLog] = []
        self.paused = False
        self.reject: set[str] = set()
        self.replay_last = 0
        self._recent: dict[str, deque[_Event]] = {v: deque(maxlen=256) for v in feeds}

    # --- ground truth ---------------------------------------------------------
    def truth(self, venue: str, market: str) -> pl.DataFrame:
        """Every liquidation of ``market`` a connection sent: canonical, sorted."""
        events = {s.event.seq: s.event for s in self.sent if s.venue == venue}
        return _frame(e.canonical() for e in events.values() if e.inst.symbol == market)

    def happened(self, venue: str, market: str) -> pl.DataFrame:
        """Every liquidation of ``market`` that happened, sent or not."""
        events = self.feeds[venue].happened
        return _frame(e.canonical() for e in events if e.inst.symbol == market)

    def sent_log(self, venue: str, market: str) -> pl.DataFrame:
        """``ts`` of each push of ``market`` with ``sent_ms`` (duplicates kept)."""
        pushes = [
            (s.event.ts_ms * 1000, s.sent_ms)
            for s in self.sent
            if s.venue == venue and s.event.inst.symbol == market
        ]
        frame = pl.DataFrame(
            pushes, schema={TS: pl.Int64(), "sent_ms": pl.Int64()}, orient="row"
        )
        return frame.with_columns(pl.col(TS).cast(_UTC))

    def venue_connections(self, venue: str) -> list[ConnectionLog]:
        """Connections to ``venue`` in the order they were opened."""
        return [c for c in self.connections if c.venue == venue]

    # --- serving ------------------------------------------------------------
    async def serve(self, venue: str, ws: web.WebSocketResponse, url: str) -> None:
        log = ConnectionLog(venue, _now_ms())
        self.connections.append(log)
        conn = _Connection(venue, ws, log)
        fault = self.emu.take_fault(url, kinds=("disconnect",))
        if fault is not None:
            conn.close_after = fault.rows
        pusher = asyncio.get_running_loop().create_task(self._push(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await _ANSWER[venue](self, conn, msg.data)
        finally:
            pusher.cancel()
            await asyncio.gather(pusher, return_exceptions=True)
            self._unsubscribe(conn)
            if log.closed_ms is None:
                log.closed_ms = _now_ms()
            await ws.close()

    def subscribe(self, conn: _Connection) -> None:
        feed = self.feeds[conn.venue]
        now = _now_ms()
        feed.advance(now)  # what happened before now is not this client's
        if conn not in feed.subscribers:
            feed.subscribers.append(conn)
            if self.replay_last:
                recent = list(self._recent[conn.venue])[-self.replay_last :]
                conn.pending[:0] = [e for e in recent if conn.wants(e)]
        if conn.log.subscribed_ms is None:
            conn.log.subscribed_ms = now

    def _unsubscribe(self, conn: _Connection) -> None:
        if conn in self.feeds[conn.venue].subscribers:
            self.feeds[conn.venue].subscribers.remove(conn)

    def _record(self, conn: _Connection, events: Iterable[_Event], now: int) -> None:
        for event in events:
            self.sent_count[conn.venue] += 1
            self._recent[conn.venue].append(event)
            if self.feeds[conn.venue].keep_history:
                self.sent.append(_Sent(conn.venue, now, event))

    async def _push(self, conn: _Connection) -> None:
        feed = self.feeds[conn.venue]
        while not conn.ws.closed:
            await asyncio.sleep(self.tick_s)
            if self.paused:
                continue
            feed.advance(_now_ms())
            events, conn.pending = conn.pending, []
            for message, batch in _MESSAGES[conn.venue](self, events):
                if conn.ws.closed:
                    return
                await conn.send(message)
                self._record(conn, batch, _now_ms())
                conn.log.messages += 1
                if conn.log.messages == conn.close_after:
                    conn.log.closed_ms, conn.log.closed_by_fault = _now_ms(), True
                    self._unsubscribe(conn)
                    await conn.ws.close()
                    return


def _frame(rows: Iterable[tuple[int, str, float, float, float]]) -> pl.DataFrame:
    schema = {
        TS: pl.Int64(),
        SIDE: pl.String(),
        PRICE: pl.Float64(),
        QUANTITY: pl.Float64(),
        NOTIONAL_USD: pl.Float64(),
    }
    frame = pl.DataFrame(sorted(rows), schema=schema, orient="row")
    frame = frame.with_columns(pl.col(TS).cast(_UTC))
    return frame.sort(list(LIQUIDATION_EVENTS.key))


Messages = Iterator[tuple[dict[str, Any], list[_Event]]]


# --- Binance USDⓈ-M -----------------------------------------------------------------
async def _answer_binance(
    streams: LiquidationStreams, conn: _Connection, text: str
) -> None:
    request = json.loads(text)
    req_id = request.get("id")
    if request.get("method") != "SUBSCRIBE":
        error = {"code": 2, "msg": "Invalid request: unknown method"}
        await conn.send({"error": error, "id": req_id})
        return
    ids = {i.venue_id.lower(): i.venue_id for i in INSTRUMENTS["binance"]}
    for stream in request.get("params", []):
        name = stream.split("@")[0]
        if stream in streams.reject or ids.get(name) in streams.reject:
            ok = False
        elif stream == "!forceOrder@arr":
            ok = conn.all_symbols = True
        elif stream.endswith("@forceOrder") and name in ids:
            ok = True
            conn.symbols.add(ids[name])
        else:
            ok = False
        if not ok:
            error = {"code": 2, "msg": f"Invalid request: unknown stream {stream}"}
            await conn.send({"error": error, "id": req_id})
            return
    streams.subscribe(conn)
    await conn.send({"result": None, "id": req_id})


def _binance_messages(streams: LiquidationStreams, events: list[_Event]) -> Messages:
    for e in events:
        worse = Decimal("0.997") if e.long else Decimal("1.003")  # order vs fill
        order_price = (Decimal(e.price) * worse).quantize(Decimal(e.price))
        order = {
            "s": e.inst.venue_id,
            "S": "SELL" if e.long else "BUY",
            "o": "LIMIT",
            "f": "IOC",
            "q": e.qty,
            "p": str(order_price),
            "ap": e.price,
            "X": "FILLED",
            "l": e.qty,
            "z": e.qty,
            "T": e.ts_ms,
        }
        yield {"e": "forceOrder", "E": e.ts_ms + 3, "o": order}, [e]


# --- Bybit v5 linear ------------------------------------------------------------------
async def _answer_bybit(
    streams: LiquidationStreams, conn: _Connection, text: str
) -> None:
    request = json.loads(text)
    op, req_id = request.get("op"), str(request.get("req_id"))
    answer: dict[str, Any] = {
        "success": True,
        "ret_msg": "",
        "conn_id": f"{id(conn):x}",
    }
    if op == "ping":
        await conn.send({**answer, "ret_msg": "pong", "req_id": req_id, "op": op})
        return
    if op != "subscribe":
        return
    ids = {i.venue_id for i in INSTRUMENTS["bybit"]} - streams.reject
    topics = request.get("args", [])
    bad = [
        t for t in topics if not t.startswith("allLiquidation.") or t[15:] not in ids
    ]
    if bad:
        answer.update(success=False, ret_msg=f"error:handler not found,topic:{bad[0]}")
    else:
        conn.symbols.update(t[15:] for t in topics)
        streams.subscribe(conn)
    await conn.send({**answer, "req_id": req_id, "op": op})


def _bybit_messages(streams: LiquidationStreams, events: list[_Event]) -> Messages:
    by_symbol: dict[str, list[_Event]] = {}
    for e in events:
        by_symbol.setdefault(e.inst.venue_id, []).append(e)
    for venue_id, batch in by_symbol.items():
        data = [
            {
                "T": e.ts_ms,
                "s": venue_id,
                "S": "Buy" if e.long else "Sell",
                "v": e.qty,
                "p": e.price,
            }
            for e in batch
        ]
        topic = f"allLiquidation.{venue_id}"
        yield {"topic": topic, "type": "snapshot", "ts": _now_ms(), "data": data}, batch


# --- OKX ------------------------------------------------------------------------
_OKX_ARG = {"channel": "liquidation-orders", "instType": "SWAP"}


async def _answer_okx(
    streams: LiquidationStreams, conn: _Connection, text: str
) -> None:
    if text == "ping":
        await conn.ws.send_str("pong")
        return
    request = json.loads(text)
    if request.get("op") != "subscribe":
        return
    conn_id = f"{id(conn):x}"
    for arg in request.get("args", []):
        if arg != _OKX_ARG or "SWAP" in streams.reject:
            msg = (
                f"Wrong URL or channel:{arg.get('channel')}, "
                f"instType:{arg.get('instType')} doesn't exist."
            )
            await conn.send(
                {"event": "error", "code": "60018", "msg": msg, "connId": conn_id}
            )
            return
        conn.all_symbols = True
        streams.subscribe(conn)
        await conn.send({"event": "subscribe", "arg": arg, "connId": conn_id})


def _okx_messages(streams: LiquidationStreams, events: list[_Event]) -> Messages:
    by_inst: dict[str, list[_Event]] = {}
    for e in events:
        by_inst.setdefault(e.inst.venue_id, []).append(e)
    items = []
    for inst_id, batch in by_inst.items():
        family = inst_id.removesuffix("-SWAP")
        for start in range(0, len(batch), streams.max_details):
            details = [
                {
                    "bkLoss": "0",
                    "bkPx": e.price,
                    "ccy": "",
                    "posSide": "long" if e.long else "short",
                    "side": "sell" if e.long else "buy",
                    "sz": e.qty,
                    "ts": str(e.ts_ms),
                }
                for e in batch[start : start + streams.max_details]
            ]
            item = {"instFamily": family, "instId": inst_id, "instType": "SWAP"}
            items.append({"details": details, **item, "uly": family})
    if items:
        yield {"arg": dict(_OKX_ARG), "data": items}, events


_ANSWER: dict[
    str, Callable[[LiquidationStreams, _Connection, str], Awaitable[None]]
] = {
    "binance": _answer_binance,
    "bybit": _answer_bybit,
    "okx": _answer_okx,
}
_MESSAGES: dict[str, Callable[[LiquidationStreams, list[_Event]], Messages]] = {
    "binance": _binance_messages,
    "bybit": _bybit_messages,
    "okx": _okx_messages,
}


# --- REST market lists (what load_markets reads) -----------------------------------
def _binance_symbol(i: Instrument) -> dict[str, Any]:
    lot = {"minQty": i.lot, "maxQty": "1000", "stepSize": i.lot}
    return {
        "symbol": i.venue_id,
        "pair": i.venue_id,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": i.base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": i.price_decimals,
        "quantityPrecision": i.qty_decimals,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["Layer-1"],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": i.tick,
                "maxPrice": "4529764",
                "tickSize": i.tick,
            },
            {"filterType": "LOT_SIZE", **lot},
            {"filterType": "MARKET_LOT_SIZE", **lot, "maxQty": "120"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSet": ["GRID", "COPY"],
    }


def _binance_exchange_info(query: dict[str, str], fault: str | None) -> Reply:
    limits = [("REQUEST_WEIGHT", "MINUTE", 1, 2400), ("ORDERS", "MINUTE", 1, 1200)]
    return Reply(
        {
            "timezone": "UTC",
            "serverTime": _now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": t, "interval": u, "intervalNum": n, "limit": lim}
                for t, u, n, lim in limits
            ],
            "exchangeFilters": [],
            "assets": [
                {
                    "asset": "USDT",
                    "marginAvailable": True,
                    "autoAssetExchange": "-10000",
                }
            ],
            "symbols": [_binance_symbol(i) for i in INSTRUMENTS["binance"]],
        }
    )


def _bybit_instrument(i: Instrument) -> dict[str, Any]:
    return {
        "symbol": i.venue_id,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": i.base,
        "quoteCoin": "USDT",
        "launchTime": "1584230400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(i.price_decimals),
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": "100.00",
            "leverageStep": "0.01",
        },
        "priceFilter": {
            "minPrice": i.tick,
            "maxPrice": "1999999.80",
            "tickSize": i.tick,
        },
        "lotSizeFilter": {
            "maxOrderQty": "1190.000",
            "minOrderQty": i.lot,
            "qtyStep": i.lot,
            "postOnlyMaxOrderQty": "1190.000",
            "maxMktOrderQty": "500.000",
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": "USDT",
        "copyTrading": "both",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": False,
        "preListingInfo": None,
        "displayName": "",
    }


def _bybit_instruments(query: dict[str, str], fault: str | None) -> Reply:
    envelope = {"retExtInfo": {}, "time": _now_ms()}
    if query.get("category") != "linear":
        msg = "params error: the emulator lists category=linear only"
        return Reply({"retCode": 10001, "retMsg": msg, "result": {}, **envelope})
    listed = [] if query.get("status") == "PreLaunch" else list(INSTRUMENTS["bybit"])
    limit, start = int(query.get("limit", "500")), int(query.get("cursor") or 0)
    cursor = str(start + limit) if start + limit < len(listed) else ""
    rows = [_bybit_instrument(i) for i in listed[start : start + limit]]
    result = {"category": "linear", "list": rows, "nextPageCursor": cursor}
    return Reply({"retCode": 0, "retMsg": "OK", "result": result, **envelope})


def _okx_instrument(i: Instrument) -> dict[str, Any]:
    family = i.venue_id.removesuffix("-SWAP")
    big = "100000000.0000000000000000"
    return {
        "alias": "",
        "baseCcy": "",
        "category": "1",
        "ctMult": "1",
        "ctType": "linear",
        "ctVal": i.ct_val,
        "ctValCcy": i.base,
        "expTime": "",
        "instFamily": family,
        "instId": i.venue_id,
        "instType": "SWAP",
        "lever": "100",
        "listTime": "1573557408000",
        "lotSz": i.lot,
        "maxIcebergSz": big,
        "maxLmtAmt": "20000000",
        "maxLmtSz": "100000000",
        "maxMktAmt": "",
        "maxMktSz": "12000",
        "maxStopSz": "12000",
        "maxTriggerSz": big,
        "maxTwapSz": big,
        "minSz": i.lot,
        "optType": "",
        "quoteCcy": "",
        "ruleType": "normal",
        "settleCcy": "USDT",
        "state": "live",
        "stk": "",
        "tickSz": i.tick,
        "uly": family,
    }


def _okx_instruments(query: dict[str, str], fault: str | None) -> Reply:
    if query.get("instType") != "SWAP":
        return Reply({"code": "51000", "msg": "Parameter instType error", "data": []})
    data = [_okx_instrument(i) for i in INSTRUMENTS["okx"]]
    return Reply({"code": "0", "msg": "", "data": data})


def install_liquidation_streams(
    emu: Emulator,
    *,
    seed: int = 7,
    events_per_second: float = 60.0,
    tick_s: float = 0.02,
    binance_min_interval_ms: int = 1000,
    max_details: int = 4,
    keep_history: bool = True,
    binance_streams: int = 10,
) -> LiquidationStreams:
    """Register the three venues' market lists and liquidation streams.

    Parameters
    ----------
    emu : Emulator
        A running emulator.
    seed : int
        Seed of every generated liquidation (content is a function of it).
    events_per_second : float
        Mean liquidations per second per venue, over all its instruments.
    tick_s : float
        How often connections push what happened (Bybit: every 0.5 s).
    binance_min_interval_ms : int
        Spacing of one symbol's Binance liquidations; the real stream sends at
        most one per symbol per 1000 ms. Tests lower it to run faster.
    max_details : int
        OKX ``details`` per instrument and message.
    keep_history : bool
        Keep every happened and sent liquidation (off for load tests: the
        per-venue counts in ``sent_count`` and ``feeds[v].count`` remain).
    binance_streams : int
        Stream indexes ``/market/ws/<n>`` served (ccxt numbers its streams).
    """
    start = _now_ms()
    feeds = {
        venue: VenueFeed(
            venue,
            seed=seed,
            start_ms=start,
            events_per_second=events_per_second,
            min_interval_ms=binance_min_interval_ms if venue == "binance" else 0,
            keep_history=keep_history,
        )
        for venue in VENUES
    }
    streams = LiquidationStreams(emu, feeds, tick_s=tick_s, max_details=max_details)
    emu.route("fapi.binance.com", "/fapi/v1/exchangeInfo", _binance_exchange_info)
    emu.route("api.bybit.com", "/v5/market/instruments-info", _bybit_instruments)
    emu.route("www.okx.com", "/api/v5/public/instruments", _okx_instruments)

    def handler(venue: str, host: str, path: str) -> Any:
        async def serve(
            ws: web.WebSocketResponse, query: dict[str, str], _: Any
        ) -> None:
            qs = "&".join(f"{k}={v}" for k, v in query.items())
            await streams.serve(venue, ws, f"{host}{path}?{qs}")

        return serve

    for path in ["/market/ws", *(f"/market/ws/{n}" for n in range(binance_streams))]:
        emu.route_ws(BINANCE_WS_HOST, path, handler("binance", BINANCE_WS_HOST, path))
    bybit, okx = "/v5/public/linear", "/ws/v5/public"
    emu.route_ws(BYBIT_WS_HOST, bybit, handler("bybit", BYBIT_WS_HOST, bybit))
    emu.route_ws(OKX_WS_HOST, okx, handler("okx", OKX_WS_HOST, okx))
    return streams
