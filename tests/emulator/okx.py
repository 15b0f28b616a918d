"""OKX (API v5) as the emulator plays it: instruments, candles, funding, OI.

Routes on host ``www.okx.com`` (ccxt's ``https://{hostname}``), answered in
OKX's envelope ``{"code": "0", "msg": "", "data": [...]}`` with every number
a string, rows NEWEST FIRST:

==============================================  ==================================
``/api/v5/public/instruments``                  ``instType`` SPOT/SWAP (load_markets)
``/api/v5/public/time``                         ``{"ts": "..."}``
``/api/v5/market/history-candles``              ``instId bar after before limit``
                                                (default 100, max 300); rows
                                                ``[ts,o,h,l,c,vol,volCcy,
                                                volCcyQuote,confirm]``; the bar in
                                                progress has ``confirm`` "0"
``/api/v5/public/funding-rate-history``         ``instId after before limit``
                                                (default and max 400); three
                                                months kept
``/api/v5/rubik/stat/contracts/open-interest-   ``instId period begin end limit``
history``                                       (max 100); ``[ts,oi,oiCcy,oiUsd]``;
                                                latest 1,440 entries per period,
                                                not before 2024-01-01 (1D) or
                                                2024-02-01 (other periods)
``/api/v5/rubik/stat/contracts/open-interest-   ``ccy period begin end`` (5m: 2
volume``                                        days, 1H: 30 days, 1D: 180 days;
                                                no limit); ``[ts,oi,vol]`` in USD
==============================================  ==================================

Cursor bounds are exclusive (``after``/``end``: older than; ``before``/
``begin``: newer than) and a page holds the newest ``limit`` rows inside them.
An unknown ``instId`` answers ``{"code": "51001", "msg": "Instrument ID does
not exist"}``. Handler faults: ``overlap`` starts the page ``rows`` rows before
the cursor (the ``before``/``begin`` bound when given, else ``after``/``end``),
``skip`` drops the first ``rows`` rows of the page as sent (the newest).

The ground truth (:class:`OkxData`) is built from the generator's schedule,
not from the adapter's code: confirmed bars only, base volume from ``vol``
(spot) or ``volCcy`` (swap, whose ``vol`` counts 0.01-coin contracts), the
realised funding rate with the interval OKX applied, OI as OKX lists it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from rallylens._typing import SeriesKind
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
    validate,
)
from tests.emulator._server import Emulator, Reply

__all__ = ["HOST", "OkxData", "install_okx"]

HOST = "www.okx.com"
API = "/api/v5"
H = 3_600_000
DAY = 24 * H

CANDLE_BARS: dict[str, tuple[int, int]] = {
    # OKX bar -> (length ms, offset ms of the bar boundaries from UTC midnight)
    "1m": (60_000, 0),
    "3m": (180_000, 0),
    "5m": (300_000, 0),
    "15m": (900_000, 0),
    "30m": (1_800_000, 0),
    "1H": (H, 0),
    "2H": (2 * H, 0),
    "4H": (4 * H, 0),
    "6Hutc": (6 * H, 0),
    "12Hutc": (12 * H, 0),
    "1Dutc": (DAY, 0),
    "1D": (DAY, -8 * H),  # UTC+8 midnight = 16:00 UTC
    "1Wutc": (7 * DAY, 4 * DAY),  # Mondays (1970-01-01 was a Thursday)
}
OI_PERIODS: dict[str, tuple[int, int]] = {
    k: CANDLE_BARS[k]
    for k in (
        *("5m", "15m", "30m", "1H", "2H", "4H", "6Hutc", "12Hutc"),
        *("1Dutc", "1D", "1Wutc"),
    )
}
VOLUME_PERIODS: dict[str, tuple[tuple[int, int], int]] = {
    # period -> ((length, offset), history kept in ms)
    "5m": (CANDLE_BARS["5m"], 2 * DAY),
    "1H": (CANDLE_BARS["1H"], 30 * DAY),
    "1D": (CANDLE_BARS["1D"], 180 * DAY),
}
CANDLE_LIMIT = (100, 300)  # (default, max)
FUNDING_LIMIT = (400, 400)
OI_LIMIT = (100, 100)
OI_ENTRIES = 1440
FUNDING_KEPT_MS = 90 * DAY
CT_VAL = 0.01  # BTC-USDT-SWAP: one contract is 0.01 BTC
_START_PRICE = {"BTC": 30_000.0, "ETH": 2_000.0}

DEFAULT_FUNDING_SCHEDULE: tuple[tuple[int, int], ...] = (
    (0, 8),
    (60, 4),
    (75, 1),
    (85, 8),
)
"""(days after the oldest kept settlement, interval hours from then on)."""


# --- wire helpers -------------------------------------------------------------
def ok(data: list[Any]) -> Reply:
    """OKX's success envelope."""
    return Reply({"code": "0", "msg": "", "data": data})


def error(code: str, msg: str, status: int = 200) -> Reply:
    """OKX's error envelope (51001 and friends come with HTTP 200)."""
    return Reply({"code": code, "msg": msg, "data": []}, status=status)


def num(value: float, decimals: int) -> str:
    """A decimal string as OKX sends it (no exponent, trailing zeros cut)."""
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def select_page(
    rows: Sequence[Any],
    ts_of: Callable[[Any], int],
    *,
    older_than: int | None,
    newer_than: int | None,
    limit: int | None,
    fault: str | None,
    fault_rows: int,
) -> list[Any]:
    """The newest ``limit`` rows strictly inside the bounds, newest first.

    ``rows`` are newest first. See the module notes for the faults.
    """
    inside = [
        i
        for i, row in enumerate(rows)
        if (older_than is None or ts_of(row) < older_than)
        and (newer_than is None or ts_of(row) > newer_than)
    ]
    if not inside:
        return []
    first, last = inside[0], inside[-1] + 1
    if fault == "overlap" and newer_than is not None:
        last = min(len(rows), last + fault_rows)  # rows at or before the cursor
    elif fault == "overlap":
        first = max(0, first - fault_rows)  # rows at or after the cursor
    page = list(rows[first:last])
    if limit is not None:
        page = page[:limit]
    if fault == "skip":
        page = page[fault_rows:]
    return page


def _int_param(query: dict[str, str], name: str) -> int | Reply | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return error("51000", f"Parameter {name} error", 400)


def _limit(query: dict[str, str], bounds: tuple[int, int]) -> int | Reply:
    value = _int_param(query, "limit")
    if isinstance(value, Reply):
        return value
    if value is None:
        return bounds[0]
    if value <= 0:
        return error("51000", "Parameter limit error", 400)
    return min(value, bounds[1])


def _bounds(
    query: dict[str, str], older: str, newer: str
) -> tuple[int | None, ...] | Reply:
    out = []
    for name in (older, newer):
        value = _int_param(query, name)
        if isinstance(value, Reply):
            return value
        out.append(value)
    return tuple(out)


def _grid(first_ms: int, last_ms: int, step: int, offset: int) -> np.ndarray:
    """Bar opens ``offset`` (mod ``step``) from the bar holding ``first_ms`` to
    the one holding ``last_ms``."""
    start = (first_ms - offset) // step * step + offset
    return np.arange(start, last_ms + 1, step, dtype=np.int64)


def _rng(seed: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32("|".join(map(str, parts)).encode())])


# --- the book -----------------------------------------------------------------
@dataclass(eq=False)
class _Book:
    """Deterministic venue state: everything OKX would answer at ``now``."""

    now_ms: int
    seed: int
    symbols: tuple[str, ...]
    listed_ms: int
    funding_schedule: tuple[tuple[int, int], ...]
    fault_rows: int = 1
    instruments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sym in self.symbols:
            self.instruments[f"{sym}-USDT"] = _spot_instrument(sym, self.listed_ms)
            self.instruments[f"{sym}-USDT-SWAP"] = _swap_instrument(sym, self.listed_ms)

    def is_swap(self, inst_id: str) -> bool:
        return inst_id.endswith("-SWAP")

    # candles: oldest first, the bar in progress last with confirm "0"
    @cache  # noqa: B019 - one book per emulator
    def candles(self, inst_id: str, bar: str) -> list[list[str]]:
        step, offset = CANDLE_BARS[bar]
        opens = _grid(self.listed_ms, self.now_ms, step, offset)
        rng = _rng(self.seed, "candles", inst_id, bar)
        base = inst_id.split("-")[0]
        sigma = 0.02 * (step / DAY) ** 0.5
        closes = _START_PRICE.get(base, 10.0) * np.exp(
            np.cumsum(rng.normal(0, sigma, len(opens)))
        )
        wicks = np.abs(rng.normal(0, sigma / 2, (2, len(opens))))
        vols = rng.lognormal(np.log(50.0 * step / H), 0.5, len(opens))
        decimals = 1 if _START_PRICE.get(base, 10.0) > 100 else 4
        rows, prev = [], closes[0] * (1 - sigma)
        for i, ts in enumerate(opens):
            o, c = round(prev, decimals), round(closes[i], decimals)
            hi = round(max(o, c) * (1 + wicks[0, i]), decimals)
            lo = round(min(o, c) * (1 - wicks[1, i]), decimals)
            prev = closes[i]
            confirm = "1" if ts + step <= self.now_ms else "0"
            rows.append(
                [
                    str(ts),
                    num(o, decimals),
                    num(hi, decimals),
                    num(lo, decimals),
                    num(c, decimals),
                    *self._volumes(inst_id, vols[i], c),
                    confirm,
                ]
            )
        return rows

    def _volumes(self, inst_id: str, base_volume: float, close: float) -> list[str]:
        if self.is_swap(inst_id):
            contracts = max(1, round(base_volume / CT_VAL))
            coins = round(contracts * CT_VAL, 2)
            return [str(contracts), num(coins, 2), num(round(coins * close, 4), 4)]
        coins = round(base_volume, 8)
        quote = num(round(coins * close, 4), 4)
        return [num(coins, 8), quote, quote]

    # funding: oldest first, settled only
    @cache  # noqa: B019
    def funding(self, inst_id: str) -> list[tuple[int, int, str, str]]:
        """(fundingTime, interval hours, fundingRate, realizedRate)."""
        first = -(-(self.now_ms - FUNDING_KEPT_MS) // (8 * H)) * 8 * H
        rng = _rng(self.seed, "funding", inst_id)
        out, ts = [], first
        while ts <= self.now_ms:
            hours = _interval_at(self.funding_schedule, (ts - first) / DAY)
            prev = out[-1][0] if out else ts - hours * H
            predicted = rng.normal(1e-4, 1.5e-4)
            realized = predicted + rng.normal(0, 2e-6)
            out.append((ts, (ts - prev) // H, num(predicted, 16), num(realized, 16)))
            ts += hours * H
        return out

    @cache  # noqa: B019
    def oi_history(self, inst_id: str, period: str) -> list[list[str]]:
        """[ts, oi (contracts), oiCcy, oiUsd], oldest first."""
        step, offset = OI_PERIODS[period]
        daily = period in ("1Dutc", "1D")  # OKX: 1D from 2024-01-01, others February
        floor = datetime(2024, 1 if daily else 2, 1, tzinfo=UTC)
        floor_ms = int(floor.timestamp() * 1000)
        opens = _grid(self.now_ms - (OI_ENTRIES - 1) * step, self.now_ms, step, offset)
        opens = opens[(opens >= floor_ms) & (opens <= self.now_ms)][-OI_ENTRIES:]
        rng = _rng(self.seed, "oi", inst_id, period)
        coins = 50_000 * np.exp(np.cumsum(rng.normal(0, 0.01, len(opens))))
        price = _START_PRICE.get(inst_id.split("-")[0], 10.0)
        rows = []
        for ts, c in zip(opens, coins, strict=True):
            contracts = round(c / CT_VAL)
            oi_ccy = round(contracts * CT_VAL, 2)
            rows.append(
                [
                    str(ts),
                    str(contracts),
                    num(oi_ccy, 2),
                    num(round(oi_ccy * price, 2), 2),
                ]
            )
        return rows

    @cache  # noqa: B019
    def oi_volume(self, ccy: str, period: str) -> list[list[str]]:
        """[ts, oi (USD), vol (USD)], oldest first, currency-wide."""
        (step, offset), kept = VOLUME_PERIODS[period]
        opens = _grid(self.now_ms - kept, self.now_ms, step, offset)
        opens = opens[(opens >= self.now_ms - kept) & (opens <= self.now_ms)]
        rng = _rng(self.seed, "oi-volume", ccy, period)
        usd = 2e9 * np.exp(np.cumsum(rng.normal(0, 0.01, len(opens))))
        vol = rng.lognormal(np.log(5e7 * step / H), 0.4, len(opens))
        return [
            [str(ts), num(round(u, 4), 4), num(round(v, 3), 3)]
            for ts, u, v in zip(opens, usd, vol, strict=True)
        ]


def _interval_at(schedule: Sequence[tuple[int, int]], day: float) -> int:
    hours = schedule[0][1]
    for start_day, value in schedule:
        if day >= start_day:
            hours = value
    return hours


def _spot_instrument(sym: str, listed_ms: int) -> dict[str, Any]:
    return {
        "alias": "",
        "auctionEndTime": "",
        "baseCcy": sym,
        "category": "1",
        "contTdSwTime": "",
        "ctMult": "",
        "ctType": "",
        "ctVal": "",
        "ctValCcy": "",
        "expTime": "",
        "futureSettlement": False,
        "groupId": "1",
        "instFamily": "",
        "instId": f"{sym}-USDT",
        "instIdCode": zlib.crc32(sym.encode()) % 10**9,
        "instType": "SPOT",
        "lever": "10",
        "listTime": str(listed_ms),
        "lotSz": "0.00000001",
        "maxIcebergSz": "9999999999.0000000000000000",
        "maxLmtAmt": "1000000",
        "maxLmtSz": "9999999999",
        "maxMktAmt": "1000000",
        "maxMktSz": "1000000",
        "maxStopSz": "1000000",
        "maxTriggerSz": "9999999999.0000000000000000",
        "maxTwapSz": "9999999999.0000000000000000",
        "minSz": "0.00001",
        "openType": "call_auction",
        "optType": "",
        "preMktSwTime": "",
        "quoteCcy": "USDT",
        "ruleType": "normal",
        "settleCcy": "",
        "state": "live",
        "stk": "",
        "tickSz": "0.1",
        "tradeQuoteCcyList": ["USDT"],
        "uly": "",
        "instCategory": "1",
        "upcChg": [],
    }


def _swap_instrument(sym: str, listed_ms: int) -> dict[str, Any]:
    return {
        "alias": "",
        "auctionEndTime": "",
        "baseCcy": "",
        "category": "1",
        "contTdSwTime": "",
        "ctMult": "1",
        "ctType": "linear",
        "ctVal": str(CT_VAL),
        "ctValCcy": sym,
        "expTime": "",
        "futureSettlement": False,
        "groupId": "2",
        "instFamily": f"{sym}-USDT",
        "instId": f"{sym}-USDT-SWAP",
        "instIdCode": zlib.crc32(f"{sym}-SWAP".encode()) % 10**9,
        "instType": "SWAP",
        "lever": "100",
        "listTime": str(listed_ms),
        "lotSz": "0.01",
        "maxIcebergSz": "100000000.0000000000000000",
        "maxLmtAmt": "20000000",
        "maxLmtSz": "100000000",
        "maxMktAmt": "",
        "maxMktSz": "12000",
        "maxStopSz": "12000",
        "maxTriggerSz": "100000000.0000000000000000",
        "maxTwapSz": "100000000.0000000000000000",
        "minSz": "0.01",
        "openType": "",
        "optType": "",
        "preMktSwTime": "",
        "quoteCcy": "",
        "ruleType": "normal",
        "settleCcy": "USDT",
        "state": "live",
        "stk": "",
        "tickSz": "0.1",
        "tradeQuoteCcyList": [],
        "uly": f"{sym}-USDT",
        "instCategory": "1",
        "upcChg": [],
    }


# --- ground truth -------------------------------------------------------------
def _ts(ms: Sequence[int]) -> pl.Series:
    return pl.Series(TS, list(ms), pl.Int64).cast(pl.Datetime("ms")).cast(TS_DTYPE)


@dataclass(frozen=True)
class OkxData:
    """What the emulated OKX holds, as canonical frames."""

    book: _Book
    now: datetime

    @property
    def listed(self) -> datetime:
        """Listing time of every emulated instrument."""
        return datetime.fromtimestamp(self.book.listed_ms / 1000, UTC)

    def truth(self, key: SeriesKey) -> pl.DataFrame:
        """Every row the venue serves for ``key``, canonical and sorted."""
        market = parse_market(key.market)
        if key.kind == SeriesKind.OHLCV:
            return self._candles(_inst_id(key.market), key.timeframe)
        if key.kind == SeriesKind.FUNDING:
            return self._funding(_inst_id(key.market))
        if key.kind == SeriesKind.OPEN_INTEREST and market.market_type == "aggregate":
            return self._oi_volume(market.base, key.timeframe)
        if key.kind == SeriesKind.OPEN_INTEREST:
            return self._oi_history(_inst_id(key.market), key.timeframe)
        raise KeyError(f"the OKX emulator serves no {key}")

    def _candles(self, inst_id: str, timeframe: str) -> pl.DataFrame:
        rows = [r for r in self.book.candles(inst_id, _BAR[timeframe]) if r[8] == "1"]
        swap = self.book.is_swap(inst_id)
        frame = pl.DataFrame(
            {
                TS: _ts([int(r[0]) for r in rows]),
                **{
                    c: [float(r[i]) for r in rows]
                    for i, c in enumerate((OPEN, HIGH, LOW, CLOSE), start=1)
                },
                VOLUME: [float(r[6] if swap else r[5]) for r in rows],
                QUOTE_VOLUME: [float(r[7]) for r in rows],
                TRADES: pl.Series([None] * len(rows), dtype=pl.Int64),
                TAKER_BUY_BASE: pl.Series([None] * len(rows), dtype=pl.Float64),
                TAKER_BUY_QUOTE: pl.Series([None] * len(rows), dtype=pl.Float64),
            }
        )
        return validate(frame, CANDLES)

    def _funding(self, inst_id: str) -> pl.DataFrame:
        rows = self.book.funding(inst_id)
        none = pl.Series([None] * len(rows), dtype=pl.Float64)
        frame = pl.DataFrame(
            {
                TS: _ts([r[0] for r in rows]),
                RATE: [float(r[3]) for r in rows],
                INTERVAL_HOURS: pl.Series([r[1] for r in rows], dtype=pl.Int32),
                RATE_OPEN: none,
                RATE_HIGH: none,
                RATE_LOW: none,
            }
        )
        return validate(frame, FUNDING)

    def _oi_history(self, inst_id: str, timeframe: str) -> pl.DataFrame:
        rows = self.book.oi_history(inst_id, _OI_PERIOD[timeframe])
        return _oi_frame(rows, base=[float(r[2]) for r in rows], usd_col=3)

    def _oi_volume(self, ccy: str, timeframe: str) -> pl.DataFrame:
        rows = self.book.oi_volume(ccy, _VOLUME_PERIOD[timeframe])
        return _oi_frame(rows, base=[None] * len(rows), usd_col=1)


def _oi_frame(
    rows: list[list[str]], *, base: list[float | None], usd_col: int
) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            TS: _ts([int(r[0]) for r in rows]),
            OI_BASE: pl.Series(base, dtype=pl.Float64),
            OI_USD: [float(r[usd_col]) for r in rows],
            OI_BASE_DERIVED: [False] * len(rows),
            OI_USD_DERIVED: [False] * len(rows),
        }
    )
    return validate(frame, OPEN_INTEREST)


_BAR = {
    "1m": "1m",
    "3m": "3m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "1H",
    "2h": "2H",
    "4h": "4H",
    "6h": "6Hutc",
    "12h": "12Hutc",
    "1d": "1Dutc",
    "1w": "1Wutc",
}
_OI_PERIOD = {tf: bar for tf, bar in _BAR.items() if tf not in ("1m", "3m")}
_VOLUME_PERIOD = {"5m": "5m", "1h": "1H", "1d": "1D"}


def _inst_id(market: str) -> str:
    m = parse_market(market)
    return (
        f"{m.base}-{m.quote}-SWAP" if m.market_type == "perp" else f"{m.base}-{m.quote}"
    )


# --- routes -------------------------------------------------------------------
def _instruments(book: _Book) -> Callable[[dict[str, str], str | None], Reply]:
    def handle(query: dict[str, str], fault: str | None) -> Reply:
        inst_type = query.get("instType", "")
        if not inst_type:
            return error("50014", "Parameter instType can not be empty.", 400)
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            return error("51000", "Parameter instType error", 400)
        wanted = "SPOT" if inst_type == "MARGIN" else inst_type
        rows = [i for i in book.instruments.values() if i["instType"] == wanted]
        if query.get("instId"):
            rows = [i for i in rows if i["instId"] == query["instId"]]
        return ok(rows)

    return handle


def _paged(
    rows: list[Any],
    ts_of: Callable[[Any], int],
    query: dict[str, str],
    fault: str | None,
    book: _Book,
    *,
    older: str,
    newer: str,
    limits: tuple[int, int] | None,
) -> Reply:
    """Answer a newest-first page of ``rows`` (given oldest first)."""
    bounds = _bounds(query, older, newer)
    if isinstance(bounds, Reply):
        return bounds
    limit: int | Reply | None = None
    if limits is not None:
        limit = _limit(query, limits)
        if isinstance(limit, Reply):
            return limit
    page = select_page(
        rows[::-1],
        ts_of,
        older_than=bounds[0],
        newer_than=bounds[1],
        limit=limit,
        fault=fault,
        fault_rows=book.fault_rows,
    )
    return ok(page)


def install_okx(
    emu: Emulator,
    *,
    now: datetime,
    seed: int = 0,
    symbols: Sequence[str] = ("BTC",),
    listed: datetime | None = None,
    funding_schedule: Sequence[tuple[int, int]] = DEFAULT_FUNDING_SCHEDULE,
    fault_rows: int = 1,
) -> OkxData:
    """Register OKX's routes on ``emu`` and return the ground truth.

    Parameters
    ----------
    now : datetime
        The venue's clock: the bar holding it is unconfirmed, nothing later
        exists, history windows are counted back from it.
    seed : int
        Seed of every generated series.
    symbols : sequence of str
        Base assets listed as ``{SYM}-USDT`` spot and ``{SYM}-USDT-SWAP``.
    listed : datetime, optional
        Listing time of every instrument (default ``now`` - 400 days + 5 h 17 min).
    funding_schedule : sequence of (day, hours)
        Funding interval from ``day`` days after the oldest kept settlement.
    fault_rows : int
        Rows an ``overlap`` or ``skip`` fault shifts or drops (the server hands
        handlers the fault's kind only, not its ``rows``).
    """
    now_ms = int(now.timestamp() * 1000)
    listed_ms = (
        int(listed.timestamp() * 1000)
        if listed is not None
        else now_ms - 400 * DAY + 5 * H + 17 * 60_000
    )
    book = _Book(
        now_ms, seed, tuple(symbols), listed_ms, tuple(funding_schedule), fault_rows
    )
    _route_all(emu, book)
    return OkxData(book, now)


def _route_all(emu: Emulator, book: _Book) -> None:
    emu.route(HOST, f"{API}/public/instruments", _instruments(book))
    emu.route(HOST, f"{API}/public/time", lambda q, f: ok([{"ts": str(book.now_ms)}]))
    emu.route(HOST, f"{API}/market/history-candles", _candles_route(book))
    emu.route(HOST, f"{API}/public/funding-rate-history", _funding_route(book))
    emu.route(
        HOST, f"{API}/rubik/stat/contracts/open-interest-history", _oi_route(book)
    )
    emu.route(
        HOST, f"{API}/rubik/stat/contracts/open-interest-volume", _volume_route(book)
    )


def _instrument(book: _Book, query: dict[str, str]) -> str | Reply:
    inst_id = query.get("instId", "")
    if not inst_id:
        return error("50014", "Parameter instId can not be empty.", 400)
    if inst_id not in book.instruments:
        return error("51001", "Instrument ID does not exist")
    return inst_id


def _candles_route(book: _Book) -> Callable[[dict[str, str], str | None], Reply]:
    def handle(query: dict[str, str], fault: str | None) -> Reply:
        inst_id = _instrument(book, query)
        if isinstance(inst_id, Reply):
            return inst_id
        bar = query.get("bar", "1m")
        if bar not in CANDLE_BARS:
            return error("51000", "Parameter bar error", 400)
        return _paged(
            book.candles(inst_id, bar),
            lambda r: int(r[0]),
            query,
            fault,
            book,
            older="after",
            newer="before",
            limits=CANDLE_LIMIT,
        )

    return handle


def _funding_route(book: _Book) -> Callable[[dict[str, str], str | None], Reply]:
    def handle(query: dict[str, str], fault: str | None) -> Reply:
        inst_id = _instrument(book, query)
        if isinstance(inst_id, Reply):
            return inst_id
        if not book.is_swap(inst_id):
            return error("51000", "Parameter instId error", 400)
        rows = [
            {
                "formulaType": "withRate",
                "fundingRate": predicted,
                "fundingTime": str(ts),
                "instId": inst_id,
                "instType": "SWAP",
                "method": "current_period",
                "realizedRate": realized,
            }
            for ts, _hours, predicted, realized in book.funding(inst_id)
        ]
        return _paged(
            rows,
            lambda r: int(r["fundingTime"]),
            query,
            fault,
            book,
            older="after",
            newer="before",
            limits=FUNDING_LIMIT,
        )

    return handle


def _oi_route(book: _Book) -> Callable[[dict[str, str], str | None], Reply]:
    def handle(query: dict[str, str], fault: str | None) -> Reply:
        inst_id = _instrument(book, query)
        if isinstance(inst_id, Reply):
            return inst_id
        if not book.is_swap(inst_id):
            return error("51000", "Parameter instId error", 400)
        period = query.get("period", "5m")
        if period not in OI_PERIODS:
            return error("51000", "Parameter period error", 400)
        return _paged(
            book.oi_history(inst_id, period),
            lambda r: int(r[0]),
            query,
            fault,
            book,
            older="end",
            newer="begin",
            limits=OI_LIMIT,
        )

    return handle


def _volume_route(book: _Book) -> Callable[[dict[str, str], str | None], Reply]:
    def handle(query: dict[str, str], fault: str | None) -> Reply:
        ccy = query.get("ccy", "")
        if not ccy:
            return error("50014", "Parameter ccy can not be empty.", 400)
        if ccy not in book.symbols:
            return error("51000", "Parameter ccy error", 400)
        period = query.get("period", "5m")
        if period not in VOLUME_PERIODS:
            return error("51000", "Parameter period error", 400)
        return _paged(
            book.oi_volume(ccy, period),
            lambda r: int(r[0]),
            query,
            fault,
            book,
            older="end",
            newer="begin",
            limits=None,
        )

    return handle
