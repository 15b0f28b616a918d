"""Bybit v5 public REST, played by the local emulator.

Routes (host ``api.bybit.com``), all answering Bybit's envelope
``{"retCode": 0, "retMsg": "OK", "result": {...}, "retExtInfo": {}, "time": ms}``
with every number as a string, as the real venue does:

* ``/v5/market/instruments-info``: ``category=spot`` (all symbols, no paging)
  and ``category=linear`` (``limit`` default 500, max 1000, ``cursor`` paging
  with ``nextPageCursor``; ``status=PreLaunch`` lists pre-market contracts,
  none here). Linear rows carry ``launchTime`` and ``fundingInterval``
  (minutes). This is all ccxt's ``load_markets`` asks for spot + linear.
* ``/v5/market/time``.
* ``/v5/market/kline``: ``category`` spot|linear, ``interval`` 1..720|D,
  ``start``/``end`` (ms, inclusive; the bar *containing* ``start`` is the
  first), ``limit`` default 200, max 1000. With ``start`` the page holds the
  oldest ``limit`` bars from ``start`` (``kline_anchor="end"``: the newest up
  to ``end``); without it the newest ``limit`` bars up to ``end``. Rows are
  string arrays ``[startTime, open, high, low, close, volume, turnover]``,
  NEWEST FIRST, and the bar in progress is included (its
  close is the last price).
* ``/v5/market/funding/history``: ``category=linear``, ``startTime`` and
  ``endTime`` (``startTime`` alone is an error), ``limit`` default and max
  200; the newest ``limit`` settlements up to ``endTime``, newest first.
* ``/v5/market/open-interest``: ``category=linear``, ``intervalTime``
  5min..1d, ``startTime``/``endTime``, ``limit`` default 50, max 200, newest
  first, ``nextPageCursor`` to the next (older) page, empty on the last.

Unknown symbols answer ``retCode`` 10001 as Bybit does ("Not supported
symbols" on kline, "params error: symbol invalid" elsewhere), with HTTP 200.

Faults ``overlap`` and ``skip`` act in *cursor order* (away from the cursor:
``start`` pages go forward, ``endTime`` and ``cursor`` pages go backward):
``overlap`` starts the page ``fault_rows`` rows on the other side of the
cursor, ``skip`` drops the ``fault_rows`` rows next to the cursor (the next
cursor is computed as if they had been sent, like a node that lost rows).

All data is generated from ``seed`` and exposed as canonical frames by
:class:`BybitData` (closed bars only, funding with its interval in hours).
"""

from __future__ import annotations

import threading
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote

import numpy as np
import polars as pl

from rallylens.schemas import (
    CANDLES,
    CLOSE,
    FUNDING,
    HIGH,
    INTERVAL_HOURS,
    LOW,
    OI_BASE,
    OI_BASE_DERIVED,
    OI_USD,
    OI_USD_DERIVED,
    OPEN,
    OPEN_INTEREST,
    QUOTE_VOLUME,
    RATE,
    RATE_HIGH,
    RATE_LOW,
    RATE_OPEN,
    TAKER_BUY_BASE,
    TAKER_BUY_QUOTE,
    TRADES,
    TS,
    TS_DTYPE,
    VOLUME,
    SeriesKey,
    parse_market,
)
from tests.emulator._server import Emulator, Reply

__all__ = ["HOST", "BybitData", "install_bybit"]

HOST = "api.bybit.com"
_MIN = 60_000
_HOUR = 60 * _MIN
_DAY = 24 * _HOUR
KLINE_INTERVALS: dict[str, int] = {
    **{str(m): m * _MIN for m in (1, 3, 5, 15, 30, 60, 120, 240, 360, 720)},
    "D": _DAY,
}
OI_INTERVALS: dict[str, int] = {
    "5min": 5 * _MIN,
    "15min": 15 * _MIN,
    "30min": 30 * _MIN,
    "1h": _HOUR,
    "4h": 4 * _HOUR,
    "1d": _DAY,
}
_TIMEFRAME_KLINE = {
    **{f"{m}m": str(m) for m in (1, 3, 5, 15, 30)},
    **{f"{h}h": str(h * 60) for h in (1, 2, 4, 6, 12)},
    "1d": "D",
}
_TIMEFRAME_OI = {
    **{f"{m}m": f"{m}min" for m in (5, 15, 30)},
    **{tf: tf for tf in ("1h", "4h", "1d")},
}
_BASE_PRICE_CENTS = {"BTC": 6_000_000, "ETH": 300_000, "SOL": 15_000}


def _strip(text: str) -> str:
    """Bybit's number style: no trailing zeros ("17071", "17055.5")."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def _cents(value: int) -> str:
    return _strip(f"{value // 100}.{value % 100:02d}")


def _rate(units_1e8: int) -> str:
    sign = "-" if units_1e8 < 0 else ""
    v = abs(units_1e8)
    return sign + _strip(f"{v // 100_000_000}.{v % 100_000_000:08d}")


@dataclass
class _Series:
    """Ascending timestamps (ms) and the wire rows for them."""

    ts: list[int]
    rows: list[Any]


@dataclass
class _Symbol:
    base: str
    launch_ms: int
    funding: tuple[tuple[int, int], ...]  # (from_ms, hours), oldest first

    @property
    def symbol(self) -> str:
        return f"{self.base}USDT"

    @property
    def funding_minutes(self) -> int:
        return self.funding[-1][1] * 60


def _default_schedule(index: int, now_day_ms: int) -> tuple[tuple[int, int], ...]:
    """Funding hours by symbol position: 8h; 8h then 4h; 8h then 2h then 1h."""
    if index % 3 == 0:
        return ((0, 8),)
    if index % 3 == 1:
        return ((0, 8), (now_day_ms - 150 * _DAY, 4))
    return ((0, 8), (now_day_ms - 200 * _DAY, 2), (now_day_ms - 100 * _DAY, 1))


@dataclass
class _Book:
    """The venue's state: symbols, generated series (cached) and counters."""

    now_ms: int
    seed: int
    symbols: dict[str, _Symbol]
    extra_linear: int
    fault_rows: int
    kline_anchor: str = "start"
    throttled: int = 0
    _cache: dict[tuple[str, ...], _Series] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _rng(self, *parts: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(":".join(parts).encode())])

    def cached(self, key: tuple[str, ...], build: Callable[[], _Series]) -> _Series:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    # --- generated series --------------------------------------------------
    def klines(self, category: str, symbol: str, interval: str) -> _Series:
        return self.cached(
            ("kline", category, symbol, interval),
            lambda: self._build_klines(category, symbol, interval),
        )

    def _build_klines(self, category: str, symbol: str, interval: str) -> _Series:
        step = KLINE_INTERVALS[interval]
        sym = self.symbols[symbol]
        first = -(-sym.launch_ms // step) * step
        ts = list(range(first, self.now_ms + 1, step))  # last one is in progress
        n = len(ts)
        rng = self._rng("kline", category, symbol, interval)
        base = _BASE_PRICE_CENTS.get(sym.base, 1_000)
        scale = 0.004 * (step / _HOUR) ** 0.5
        closes = np.maximum(
            1, np.rint(base * np.exp(np.cumsum(rng.normal(0, scale, n))))
        ).astype(np.int64)
        opens = np.concatenate([[base], closes[:-1]]).astype(np.int64)
        wick = np.abs(rng.normal(0, scale / 2, (2, n)))
        highs = np.maximum(np.maximum(opens, closes), np.rint(closes * (1 + wick[0])))
        lows = np.maximum(
            1, np.minimum(np.minimum(opens, closes), np.rint(closes * (1 - wick[1])))
        )
        volume_milli = rng.integers(1_000, 5_000_000, n)
        rows = [
            [
                str(t),
                _cents(int(o)),
                _cents(int(h)),
                _cents(int(lo)),
                _cents(int(c)),
                _strip(f"{v // 1000}.{v % 1000:03d}"),
                _strip(f"{v * (o + c) / 200_000:.4f}"),
            ]
            for t, o, h, lo, c, v in zip(
                ts, opens, highs, lows, closes, volume_milli, strict=True
            )
        ]
        return _Series(ts, rows)

    def funding(self, symbol: str) -> _Series:
        return self.cached(("funding", symbol), lambda: self._build_funding(symbol))

    def _build_funding(self, symbol: str) -> _Series:
        sym = self.symbols[symbol]
        ts: list[int] = []
        hours: list[int] = []
        t = sym.launch_ms
        regimes = list(sym.funding)
        while True:
            h = [hrs for since, hrs in regimes if since <= t][-1]
            t = (t // (h * _HOUR) + 1) * h * _HOUR
            if t > self.now_ms:
                break
            ts.append(t)
            hours.append(h)
        rng = self._rng("funding", symbol)
        noise = rng.integers(-30_000, 60_000, len(ts))
        flat = rng.random(len(ts)) < 0.4
        units = np.where(flat, 10_000, noise)
        rows = [
            (_rate(int(u)), h) for u, h in zip(units, hours, strict=True)
        ]  # (fundingRate string, interval hours: the ground truth)
        return _Series(ts, rows)

    def open_interest(self, symbol: str, interval: str) -> _Series:
        return self.cached(
            ("oi", symbol, interval), lambda: self._build_oi(symbol, interval)
        )

    def _build_oi(self, symbol: str, interval: str) -> _Series:
        step = OI_INTERVALS[interval]
        sym = self.symbols[symbol]
        first = -(-sym.launch_ms // step) * step
        ts = list(range(first, self.now_ms + 1, step))
        rng = self._rng("oi", symbol, interval)
        walk = np.exp(np.cumsum(rng.normal(0, 0.01, len(ts))))
        milli = np.rint(50_000_000 * walk).astype(np.int64)
        rows = [f"{int(m) // 1000}.{int(m) % 1000:03d}00000" for m in milli]
        return _Series(ts, rows)


# --- envelope -----------------------------------------------------------------
def _ok(book: _Book, result: Mapping[str, Any]) -> Reply:
    return Reply(
        {
            "retCode": 0,
            "retMsg": "OK",
            "result": dict(result),
            "retExtInfo": {},
            "time": book.now_ms,
        }
    )


def _error(book: _Book, code: int, message: str, result: Any = None) -> Reply:
    return Reply(
        {
            "retCode": code,
            "retMsg": message,
            "result": {} if result is None else result,
            "retExtInfo": {},
            "time": book.now_ms,
        }
    )


def _throttled(book: _Book) -> Reply | None:
    """Bybit's per-endpoint limit answer: HTTP 200 with retCode 10006."""
    with book._lock:
        if book.throttled <= 0:
            return None
        book.throttled -= 1
    reply = _error(book, 10006, "Too many visits. Exceeded the API Rate Limit.")
    reply.headers = {
        "X-Bapi-Limit-Status": "0",
        "X-Bapi-Limit": "600",
        "X-Bapi-Limit-Reset-Timestamp": str(book.now_ms + 1000),
    }
    return reply


def _int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    return None if value in (None, "") else int(str(value))


def _limit(query: Mapping[str, str], default: int, maximum: int) -> int:
    value = _int(query, "limit")
    return default if value is None else max(1, min(maximum, value))


# --- page selection in cursor order --------------------------------------------
def _forward(
    ts: Sequence[int], lo: int, hi: int, limit: int, fault: str | None, n: int
) -> list[int]:
    """Indices of a page walking forward from ``lo`` (its rows are <= ``hi``)."""
    i0, i1 = bisect_left(ts, lo), bisect_right(ts, hi)
    if fault == "overlap":
        i0 = max(0, i0 - n)
    idx = list(range(i0, min(i1, i0 + limit)))
    return idx[n:] if fault == "skip" else idx


def _backward(
    ts: Sequence[int], lo: int, hi: int, limit: int, fault: str | None, n: int
) -> list[int]:
    """Indices of a page walking back from ``hi`` (its rows are >= ``lo``), newest
    first."""
    floor, i1 = bisect_left(ts, lo), bisect_right(ts, hi)
    if fault == "overlap":
        i1 = min(len(ts), i1 + n)
    idx = list(range(i1 - 1, max(floor, i1 - limit) - 1, -1))
    return idx[n:] if fault == "skip" else idx


# --- handlers -------------------------------------------------------------------
def _instrument_spot(sym: _Symbol) -> dict[str, Any]:
    return {
        "symbol": sym.symbol,
        "baseCoin": sym.base,
        "quoteCoin": "USDT",
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "utaOnly",
        "stTag": "0",
        "lotSizeFilter": {
            "basePrecision": "0.000001",
            "quotePrecision": "0.0000001",
            "minOrderQty": "0.000011",
            "maxOrderQty": "83",
            "minOrderAmt": "5",
            "maxOrderAmt": "8000000",
            "maxLimitOrderQty": "83",
            "maxMarketOrderQty": "41.5",
        },
        "priceFilter": {"tickSize": "0.01"},
        "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
        "symbolType": "",
    }


def _instrument_linear(base: str, launch_ms: int, minutes: int) -> dict[str, Any]:
    return {
        "symbol": f"{base}USDT",
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": base,
        "quoteCoin": "USDT",
        "launchTime": str(launch_ms),
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": "2",
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": "100.00",
            "leverageStep": "0.01",
        },
        "priceFilter": {
            "minPrice": "0.10",
            "maxPrice": "1999999.80",
            "tickSize": "0.10",
        },
        "lotSizeFilter": {
            "maxOrderQty": "1190.000",
            "minOrderQty": "0.001",
            "qtyStep": "0.001",
            "postOnlyMaxOrderQty": "1190.000",
            "maxMktOrderQty": "500.000",
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": minutes,
        "settleCoin": "USDT",
        "copyTrading": "both",
        "upperFundingRate": "0.00375",
        "lowerFundingRate": "-0.00375",
        "isPreListing": False,
        "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        "symbolType": "",
    }


def _linear_instruments(book: _Book) -> list[dict[str, Any]]:
    rows = [
        _instrument_linear(s.base, s.launch_ms, s.funding_minutes)
        for s in book.symbols.values()
    ]
    rows += [
        _instrument_linear(f"FILL{i:04d}", book.now_ms - 30 * _DAY, 480)
        for i in range(book.extra_linear)
    ]
    return sorted(rows, key=lambda r: str(r["symbol"]))


def _instruments(book: _Book, query: dict[str, str], fault: str | None) -> Reply:
    category = query.get("category")
    if category == "spot":
        rows = [_instrument_spot(s) for s in book.symbols.values()]
        return _ok(book, {"category": "spot", "list": rows})
    if category != "linear":
        return _error(book, 10001, "params error: category invalid")
    if query.get("status") == "PreLaunch":
        return _ok(book, {"category": "linear", "list": [], "nextPageCursor": ""})
    rows = _linear_instruments(book)
    limit = _limit(query, 500, 1000)
    start = 0
    cursor = unquote(query.get("cursor", ""))
    if cursor:
        last = parse_qs(cursor).get("last", [""])[0]
        names = [str(r["symbol"]) for r in rows]
        start = bisect_right(names, last)
    page = rows[start : start + limit]
    more = start + limit < len(rows)
    next_cursor = (
        quote(f"first={page[0]['symbol']}&last={page[-1]['symbol']}", safe="")
        if more and page
        else ""
    )
    return _ok(
        book, {"category": "linear", "list": page, "nextPageCursor": next_cursor}
    )


def _time(book: _Book, query: dict[str, str], fault: str | None) -> Reply:
    return _ok(
        book,
        {
            "timeSecond": str(book.now_ms // 1000),
            "timeNano": str(book.now_ms * 1_000_000),
        },
    )


def _kline(book: _Book, query: dict[str, str], fault: str | None) -> Reply:
    if (throttle := _throttled(book)) is not None:
        return throttle
    category, symbol = query.get("category", ""), query.get("symbol", "")
    interval = query.get("interval", "")
    if category not in ("spot", "linear"):
        return _error(book, 10001, "params error: category invalid")
    if symbol not in book.symbols:
        return _error(book, 10001, "Not supported symbols")
    if interval not in KLINE_INTERVALS:
        return _error(book, 10001, "Invalid period!")
    series = book.klines(category, symbol, interval)
    limit = _limit(query, 200, 1000)
    end = _int(query, "end")
    end = book.now_ms if end is None else end
    start = _int(query, "start")
    if start is not None and book.kline_anchor == "start":
        step = KLINE_INTERVALS[interval]
        lo = start // step * step  # the bar containing `start`
        idx = sorted(
            _forward(series.ts, lo, end, limit, fault, book.fault_rows), reverse=True
        )
    else:  # newest bars up to `end` (and not before `start`, if given)
        step = KLINE_INTERVALS[interval]
        lo = 0 if start is None else start // step * step
        idx = _backward(series.ts, lo, end, limit, fault, book.fault_rows)
    rows = [series.rows[i] for i in idx]
    return _ok(book, {"category": category, "symbol": symbol, "list": rows})


def _funding(book: _Book, query: dict[str, str], fault: str | None) -> Reply:
    if (throttle := _throttled(book)) is not None:
        return throttle
    invalid = {"category": "", "list": []}
    if query.get("category") not in ("linear", "inverse"):
        return _error(book, 10001, "params error: category invalid", invalid)
    symbol = query.get("symbol", "")
    if symbol not in book.symbols:
        return _error(book, 10001, "params error: symbol invalid", invalid)
    start, end = _int(query, "startTime"), _int(query, "endTime")
    if start is not None and end is None:
        return _error(book, 10001, "params error: endTime is required with startTime")
    series = book.funding(symbol)
    idx = _backward(
        series.ts,
        0 if start is None else start,
        book.now_ms if end is None else end,
        _limit(query, 200, 200),
        fault,
        book.fault_rows,
    )
    rows = [
        {
            "symbol": symbol,
            "fundingRate": series.rows[i][0],
            "fundingRateTimestamp": str(series.ts[i]),
        }
        for i in idx
    ]
    return _ok(book, {"category": "linear", "list": rows})


def _open_interest(book: _Book, query: dict[str, str], fault: str | None) -> Reply:
    if (throttle := _throttled(book)) is not None:
        return throttle
    invalid = {"category": "", "list": []}
    if query.get("category") not in ("linear", "inverse"):
        return _error(book, 10001, "params error: category invalid", invalid)
    symbol = query.get("symbol", "")
    if symbol not in book.symbols:
        return _error(book, 10001, "params error: symbol invalid", invalid)
    interval = query.get("intervalTime", "")
    if interval not in OI_INTERVALS:
        return _error(book, 10001, "params error: intervalTime invalid", invalid)
    series = book.open_interest(symbol, interval)
    start, end = _int(query, "startTime"), _int(query, "endTime")
    hi = book.now_ms if end is None else end
    cursor = unquote(query.get("cursor", ""))
    if cursor:
        hi = min(hi, int(parse_qs(cursor)["lastTime"][0]) - 1)
    lo, limit = 0 if start is None else start, _limit(query, 50, 200)
    idx = _backward(series.ts, lo, hi, limit, fault, book.fault_rows)
    intended = _backward(series.ts, lo, hi, limit, None, 0)
    # the next cursor follows the page as sent (overlap) or as meant (skip)
    basis = idx if fault == "overlap" else intended
    oldest = series.ts[basis[-1]] if basis else None
    more = bool(basis) and bisect_left(series.ts, lo) < basis[-1]
    rows = [
        {"openInterest": series.rows[i], "timestamp": str(series.ts[i])} for i in idx
    ]
    next_cursor = quote(f"lastTime={oldest}", safe="") if more else ""
    return _ok(
        book,
        {
            "symbol": symbol,
            "category": "linear",
            "list": rows,
            "nextPageCursor": next_cursor,
        },
    )


# --- ground truth ------------------------------------------------------------------
def _ts_column(ms: Sequence[int]) -> pl.Series:
    return (
        pl.from_epoch(pl.Series(TS, list(ms), dtype=pl.Int64), time_unit="ms")
        .dt.replace_time_zone("UTC")
        .cast(TS_DTYPE)
    )


@dataclass
class BybitData:
    """What the emulated Bybit serves, as canonical frames (the ground truth).

    Attributes
    ----------
    now : datetime
        The venue's clock (every envelope's ``time``).
    symbols : tuple[str, ...]
        Base assets listed spot and linear (``BTC`` → ``BTCUSDT``).
    """

    now: datetime
    symbols: tuple[str, ...]
    _book: _Book

    def _symbol(self, market: str) -> tuple[str, str]:
        parsed = parse_market(market)
        category = "spot" if parsed.market_type == "spot" else "linear"
        return category, f"{parsed.base}{parsed.quote}"

    def launch(self, market: str) -> datetime:
        """Listing time of ``market`` (Bybit's ``launchTime``)."""
        _, symbol = self._symbol(market)
        ms = self._book.symbols[symbol].launch_ms
        return datetime.fromtimestamp(ms / 1000, UTC)

    def funding_hours(self, market: str) -> int:
        """The instrument's current ``fundingInterval`` in hours."""
        _, symbol = self._symbol(market)
        return self._book.symbols[symbol].funding[-1][1]

    def candles(self, market: str, timeframe: str) -> pl.DataFrame:
        """Closed bars of ``market`` (schema CANDLES, taker columns null)."""
        category, symbol = self._symbol(market)
        interval = _TIMEFRAME_KLINE[timeframe]
        series = self._book.klines(category, symbol, interval)
        step = KLINE_INTERVALS[interval]
        closed = [
            (t, r)
            for t, r in zip(series.ts, series.rows, strict=True)
            if t + step <= self._book.now_ms
        ]
        cols = list(zip(*(r for _, r in closed), strict=True))
        values = {
            name: pl.Series(name, list(cols[i]), dtype=pl.String).cast(pl.Float64)
            for i, name in enumerate((OPEN, HIGH, LOW, CLOSE, VOLUME, QUOTE_VOLUME), 1)
        }
        n = len(closed)
        return pl.DataFrame(
            {
                TS: _ts_column([t for t, _ in closed]),
                **values,
                TRADES: pl.Series(TRADES, [None] * n, dtype=pl.Int64),
                TAKER_BUY_BASE: pl.Series([None] * n, dtype=pl.Float64),
                TAKER_BUY_QUOTE: pl.Series([None] * n, dtype=pl.Float64),
            }
        ).select(list(CANDLES.columns))

    def funding(self, market: str) -> pl.DataFrame:
        """Every settlement of ``market`` (schema FUNDING)."""
        _, symbol = self._symbol(market)
        series = self._book.funding(symbol)
        n = len(series.ts)
        return pl.DataFrame(
            {
                TS: _ts_column(series.ts),
                RATE: pl.Series([r[0] for r in series.rows]).cast(pl.Float64),
                INTERVAL_HOURS: pl.Series([r[1] for r in series.rows], dtype=pl.Int32),
                RATE_OPEN: pl.Series([None] * n, dtype=pl.Float64),
                RATE_HIGH: pl.Series([None] * n, dtype=pl.Float64),
                RATE_LOW: pl.Series([None] * n, dtype=pl.Float64),
            }
        ).select(list(FUNDING.columns))

    def open_interest(self, market: str, timeframe: str) -> pl.DataFrame:
        """Open interest of ``market`` in base coin (schema OPEN_INTEREST)."""
        _, symbol = self._symbol(market)
        series = self._book.open_interest(symbol, _TIMEFRAME_OI[timeframe])
        n = len(series.ts)
        return pl.DataFrame(
            {
                TS: _ts_column(series.ts),
                OI_BASE: pl.Series(series.rows).cast(pl.Float64),
                OI_USD: pl.Series([None] * n, dtype=pl.Float64),
                OI_BASE_DERIVED: pl.Series([False] * n, dtype=pl.Boolean),
                OI_USD_DERIVED: pl.Series([False] * n, dtype=pl.Boolean),
            }
        ).select(list(OPEN_INTEREST.columns))

    def truth(self, key: SeriesKey) -> pl.DataFrame:
        """The canonical frame of ``key`` (every row the venue has)."""
        if key.kind == "funding":
            return self.funding(key.market)
        if key.kind == "open_interest":
            return self.open_interest(key.market, key.timeframe)
        return self.candles(key.market, key.timeframe)

    def list_symbol(self, base: str, *, days: int = 20) -> None:
        """List ``{base}USDT`` (spot and linear, 8h funding) from now on."""
        launch = self._book.now_ms // _DAY * _DAY - days * _DAY
        symbol = _Symbol(base, launch, ((0, 8),))
        with self._book._lock:
            self._book.symbols[symbol.symbol] = symbol

    def throttle(self, times: int) -> None:
        """Answer the next ``times`` data requests with retCode 10006 (rate limit)."""
        with self._book._lock:
            self._book.throttled += times


def install_bybit(
    emu: Emulator,
    *,
    now: datetime,
    seed: int,
    symbols: Sequence[str] = ("BTC", "ETH", "SOL"),
    days: int = 400,
    funding_hours: Mapping[str, Sequence[tuple[datetime | None, int]]] | None = None,
    extra_linear: int = 0,
    fault_rows: int = 1,
    kline_anchor: Literal["start", "end"] = "start",
) -> BybitData:
    """Register the Bybit routes on ``emu`` and return the ground truth.

    Parameters
    ----------
    emu : Emulator
        A running emulator.
    now : datetime
        The venue's clock (time zone aware).
    seed : int
        Seed of every generated series.
    symbols : sequence of str
        Base assets listed as ``{base}USDT`` spot and linear perpetual; they
        are listed one after another, 5 days apart, ``days`` before ``now``.
    days : int
        History length of the first symbol.
    funding_hours : mapping, optional
        Funding schedule by base asset: ``(since, hours)`` pairs, oldest first
        (``since`` None for the listing). By default the 1st, 4th.. symbol
        settles every 8h; the 2nd.. 8h then 4h from ``now - 150d``; the 3rd..
        8h, 2h from ``now - 200d``, 1h from ``now - 100d``.
    extra_linear : int
        Filler linear contracts (``FILL0000USDT``...) listed without data, to
        make ``instruments-info`` page (more than 1000 rows) like the real one.
    fault_rows : int
        Rows an ``overlap`` or ``skip`` fault moves or drops.
    kline_anchor : {"start", "end"}
        Which end of a kline ``start``/``end`` range a ``limit``-row page is
        taken from when the range holds more bars: the oldest bars from
        ``start`` (as observed on Bybit) or the newest up to ``end`` (the
        other reading of the docs).
    """
    if now.tzinfo is None:
        raise ValueError(f"now must be time zone aware, got {now!r}")
    now_ms = int(now.timestamp() * 1000)
    day0 = now_ms // _DAY * _DAY
    table: dict[str, _Symbol] = {}
    for i, base in enumerate(symbols):
        launch = day0 - days * _DAY + i * 5 * _DAY
        if funding_hours is not None and base in funding_hours:
            schedule = tuple(
                (0 if since is None else int(since.timestamp() * 1000), hours)
                for since, hours in funding_hours[base]
            )
        else:
            schedule = _default_schedule(i, day0)
        table[f"{base}USDT"] = _Symbol(base, launch, schedule)
    book = _Book(now_ms, seed, table, extra_linear, fault_rows, kline_anchor)
    routes = {
        "/v5/market/instruments-info": _instruments,
        "/v5/market/time": _time,
        "/v5/market/kline": _kline,
        "/v5/market/funding/history": _funding,
        "/v5/market/open-interest": _open_interest,
    }
    for path, handler in routes.items():
        emu.route(HOST, path, lambda q, f, h=handler: h(book, q, f))
    return BybitData(now, tuple(symbols), book)
