"""Bybit (v5) live adapter: candles, funding settlements and open interest.

Endpoints (public, no key), all wrapped in Bybit's envelope
``{"retCode": 0, "retMsg": "OK", "result": {...}, "time": ms}`` whose ``time``
is the venue's clock:

* ``GET /v5/market/kline`` (spot and linear): ``start``/``end`` in ms,
  ``limit`` up to 1000, rows newest first as string arrays, the bar in
  progress included. Asked in windows of exactly ``limit`` bars, so the page
  is the same whichever end Bybit fills a longer range from.
* ``GET /v5/market/funding/history`` (linear): ``startTime`` + ``endTime``,
  ``limit`` up to 200, newest first. Paged backwards by ``endTime``.
* ``GET /v5/market/open-interest`` (linear): ``intervalTime``, ``startTime``
  / ``endTime``, ``limit`` up to 200, newest first, then ``nextPageCursor``.
* ``GET /v5/market/instruments-info`` through ccxt's ``load_markets``: the
  symbol id, the listing time (``launchTime``) and the funding interval
  (``fundingInterval``, minutes).

Pages that go backwards are walked inside forward windows of a few pages, so
chunks still come oldest first (a stopped fetch resumes from the last stored
row without a gap). A page whose newest row is missing (a node that lost
rows) is asked for again, twice, before the gap is accepted as real.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ConfigError, SourceError, UnsupportedSymbolError
from rallylens.schemas import (
    CANDLES,
    CLOSE,
    FUNDING,
    HIGH,
    INTERVAL_HOURS,
    LOW,
    OI_BASE,
    OI_BASE_DERIVED,
    OI_USD_DERIVED,
    OPEN,
    OPEN_INTEREST,
    QUOTE_VOLUME,
    RATE,
    TS,
    TS_DTYPE,
    VOLUME,
    FrameSchema,
    SeriesKey,
    timeframe_duration,
    validate,
)
from rallylens.sources._ccxt import (
    MalformedPayloadError,
    RetryPolicy,
    call_with_retries,
)

__all__ = [
    "FUNDING_HOURS",
    "KLINE_INTERVALS",
    "OI_INTERVALS",
    "BybitSource",
    "Kline",
    "Page",
    "Point",
    "funding_frame",
    "funding_hours_from_minutes",
    "funding_intervals",
    "kline_frame",
    "kline_page_complete",
    "open_interest_frame",
    "parse_funding_page",
    "parse_kline_page",
    "parse_open_interest_page",
    "walk_back",
    "walk_windows",
]

log = logging.getLogger(__name__)

VENUE = "bybit"
_HOUR_MS = 3_600_000
KLINE_LIMIT = 1000
FUNDING_LIMIT = 200
OI_LIMIT = 200
PAGES_PER_CHUNK = 5
"""Backward pages walked per forward window (one yielded chunk)."""
_MAX_PAGES = 10_000
FUNDING_HOURS = (1, 2, 4, 8)
"""Funding intervals Bybit linear contracts use."""

KLINE_INTERVALS: Mapping[str, str] = {
    **{f"{m}m": str(m) for m in (1, 3, 5, 15, 30)},
    **{f"{h}h": str(h * 60) for h in (1, 2, 4, 6, 12)},
    "1d": "D",
}
"""Our timeframe -> Bybit kline ``interval`` (weekly/monthly bars are left out:
they do not start on a fixed grid)."""
OI_INTERVALS: Mapping[str, str] = {
    **{f"{m}m": f"{m}min" for m in (5, 15, 30)},
    **{tf: tf for tf in ("1h", "4h", "1d")},
}
"""Our timeframe -> Bybit open-interest ``intervalTime``."""


class Kline(NamedTuple):
    """One bar: open time (ms) and the floats of Bybit's string array."""

    ts_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    turnover: float


class Point(NamedTuple):
    """One timestamped value (a funding rate, an open interest)."""

    ts_ms: int
    value: float


@dataclass(frozen=True)
class Page:
    """A parsed page: rows as sent, the venue clock, the next cursor."""

    rows: list[Any]
    server_ms: int
    cursor: str | None = None


# --- payload parsing ------------------------------------------------------------------
def _result(payload: Any, what: str) -> tuple[Mapping[str, Any], int]:
    """The ``result`` object and the venue clock of an envelope."""
    if not isinstance(payload, Mapping):
        raise MalformedPayloadError(f"{what}: not a JSON object: {payload!r:.120}")
    result, time_ms = payload.get("result"), payload.get("time")
    if str(payload.get("retCode")) != "0" or not isinstance(result, Mapping):
        raise MalformedPayloadError(f"{what}: not a Bybit answer: {payload!r:.160}")
    try:
        return result, int(str(time_ms))
    except ValueError as exc:
        raise MalformedPayloadError(f"{what}: bad server time {time_ms!r}") from exc


def _list(result: Mapping[str, Any], what: str) -> list[Any]:
    rows = result.get("list")
    if not isinstance(rows, list):
        raise MalformedPayloadError(f"{what}: result.list missing: {result!r:.160}")
    return rows


def parse_kline_page(payload: Any, what: str = "bybit kline") -> Page:
    """Parse a ``/v5/market/kline`` answer.

    Raw payload (trimmed)::

        {"retCode": 0, "result": {"symbol": "BTCUSDT", "category": "linear",
         "list": [["1670608800000", "17071", "17073", "17027", "17055.5",
                   "268611", "15.74462667"], ...]}, "time": 1672025956592}

    Rows are ``[startTime, open, high, low, close, volume, turnover]``,
    newest first; volume in base coin (contracts of one coin on linear),
    turnover in quote currency.

    Raises
    ------
    MalformedPayloadError
        If the payload is not shaped like that (retried by the caller).
    """
    result, server_ms = _result(payload, what)
    out = []
    for row in _list(result, what):
        if not (isinstance(row, list) and len(row) >= 7):
            raise MalformedPayloadError(f"{what}: bad row {row!r:.120}")
        try:
            out.append(Kline(int(row[0]), *(float(v) for v in row[1:7])))
        except (TypeError, ValueError) as exc:
            raise MalformedPayloadError(f"{what}: bad row {row!r:.120}") from exc
    return Page(out, server_ms)


def _points(
    rows: Sequence[Any], ts_field: str, value_field: str, what: str
) -> list[Point]:
    out = []
    for row in rows:
        try:
            out.append(Point(int(row[ts_field]), float(row[value_field])))
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedPayloadError(f"{what}: bad row {row!r:.120}") from exc
    return out


def parse_funding_page(payload: Any, what: str = "bybit funding") -> Page:
    """Parse a ``/v5/market/funding/history`` answer.

    Raw payload (trimmed)::

        {"retCode": 0, "result": {"category": "linear", "list": [
          {"symbol": "BTCUSDT", "fundingRate": "0.0001",
           "fundingRateTimestamp": "1672041600000"}, ...]}, "time": ...}

    ``fundingRate`` is a decimal per settlement (``"0.0001"`` = 0.01 %),
    newest first.
    """
    result, server_ms = _result(payload, what)
    rows = _points(_list(result, what), "fundingRateTimestamp", "fundingRate", what)
    return Page(rows, server_ms)


def parse_open_interest_page(payload: Any, what: str = "bybit open interest") -> Page:
    """Parse a ``/v5/market/open-interest`` answer.

    Raw payload (trimmed)::

        {"retCode": 0, "result": {"symbol": "BTCUSDT", "category": "linear",
         "list": [{"openInterest": "52345.12300000", "timestamp": "1669571400000"}],
         "nextPageCursor": "lastTime%3D1669571400000"}, "time": ...}

    ``openInterest`` is in base coin, newest first; an empty cursor ends.
    """
    result, server_ms = _result(payload, what)
    rows = _points(_list(result, what), "timestamp", "openInterest", what)
    cursor = result.get("nextPageCursor")
    return Page(rows, server_ms, str(cursor) if cursor else None)


# --- unit conversions -----------------------------------------------------------------
def funding_hours_from_minutes(minutes: object, *, symbol: str = "") -> int:
    """Hours of an instrument's ``fundingInterval`` (given in minutes).

    Examples
    --------
    >>> funding_hours_from_minutes(480)
    8

    Raises
    ------
    SourceError
        If the value is not 60, 120, 240 or 480 minutes.
    """
    try:
        value = int(str(minutes))
    except ValueError:
        value = -1
    if value % 60 or value // 60 not in FUNDING_HOURS:
        raise SourceError(
            f"bybit lists {symbol or 'a contract'} with fundingInterval {minutes!r} "
            "minutes, not 60/120/240/480; rallylens cannot label its settlements, "
            "report the symbol"
        )
    return value // 60


def _spacing_hours(ms: int) -> int | None:
    hours, rest = divmod(ms, _HOUR_MS)
    return hours if not rest and hours in FUNDING_HOURS else None


def funding_intervals(
    ts_ms: Sequence[int],
    *,
    default_hours: int,
    previous_ms: int | None = None,
    previous_hours: int | None = None,
) -> list[int]:
    """Interval in hours each settlement in ``ts_ms`` (ascending) paid for.

    A settlement's interval is the time since the previous settlement when
    that is 1, 2, 4 or 8 hours (this follows Bybit's interval changes).
    Otherwise (a settlement missed in an outage) the previous row's interval
    carries on; the very first settlement takes the spacing to the next one,
    else ``default_hours`` (the instrument's current ``fundingInterval``).

    Parameters
    ----------
    ts_ms : sequence of int
        Settlement times in ms, ascending.
    default_hours : int
        The instrument's current interval.
    previous_ms, previous_hours : int, optional
        The settlement just before ``ts_ms[0]`` and its interval (carried
        between chunks).

    Examples
    --------
    >>> h = 3_600_000
    >>> funding_intervals([0, 8 * h, 12 * h, 16 * h], default_hours=8)
    [8, 8, 4, 4]
    """
    out: list[int] = []
    prev, last = previous_ms, previous_hours
    for i, ts in enumerate(ts_ms):
        hours = None if prev is None else _spacing_hours(ts - prev)
        if hours is None and last is not None:
            hours = last
        if hours is None:
            ahead = _spacing_hours(ts_ms[i + 1] - ts) if i + 1 < len(ts_ms) else None
            hours = ahead or default_hours
        out.append(hours)
        prev, last = ts, hours
    return out


# --- frames ---------------------------------------------------------------------------
def _frame(
    schema: FrameSchema, ts_ms: Sequence[int], values: Mapping[str, Sequence[Any]]
) -> pl.DataFrame:
    """A frame of ``schema``: ``ts`` from epoch ms, given columns, the rest null."""
    ts = pl.from_epoch(pl.Series(TS, list(ts_ms), dtype=pl.Int64), time_unit="ms")
    data = {TS: ts.dt.replace_time_zone("UTC").cast(TS_DTYPE)} | {
        name: pl.Series(name, list(col), dtype=schema.columns[name])
        for name, col in values.items()
    }
    frame = pl.DataFrame(data).with_columns(
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.columns.items()
        if name not in data
    )
    return validate(frame.select(list(schema.columns)), schema)


def kline_frame(rows: Sequence[Kline]) -> pl.DataFrame:
    """Bars in schema CANDLES (trades and taker columns null: Bybit has none)."""
    names = (OPEN, HIGH, LOW, CLOSE, VOLUME, QUOTE_VOLUME)
    values = {name: [r[i] for r in rows] for i, name in enumerate(names, 1)}
    return _frame(CANDLES, [r.ts_ms for r in rows], values)


def funding_frame(rows: Sequence[Point], hours: Sequence[int]) -> pl.DataFrame:
    """Settlements in schema FUNDING (rate decimal per interval)."""
    values: dict[str, Sequence[Any]] = {
        RATE: [r.value for r in rows],
        INTERVAL_HOURS: hours,
    }
    return _frame(FUNDING, [r.ts_ms for r in rows], values)


def open_interest_frame(rows: Sequence[Point]) -> pl.DataFrame:
    """Open interest in schema OPEN_INTEREST: base coin as sent, no USD value."""
    flags = [False] * len(rows)
    values: dict[str, Sequence[Any]] = {
        OI_BASE: [r.value for r in rows],
        OI_BASE_DERIVED: flags,
        OI_USD_DERIVED: flags,
    }
    return _frame(OPEN_INTEREST, [r.ts_ms for r in rows], values)


# --- backward walks inside a window ---------------------------------------------------
FetchBack = Callable[[int, str | None], Page]
"""``fetch(upper_ms, cursor)``: a page of rows at or before ``upper_ms``."""


def _misses_newest(page: Page, upper: int, spacing: Callable[[list[int]], int]) -> bool:
    stamps = sorted((r.ts_ms for r in page.rows if r.ts_ms <= upper), reverse=True)
    if not stamps:
        return False
    return bool(stamps[0] + spacing(stamps) <= min(upper, page.server_ms))


def walk_back(
    fetch: FetchBack,
    lo_ms: int,
    hi_ms: int,
    *,
    spacing: Callable[[list[int]], int],
    what: str,
) -> tuple[dict[int, Point], int]:
    """Rows with ``lo_ms <= ts < hi_ms`` from a newest-first endpoint.

    Walks back from ``hi_ms`` page by page (by ``endTime`` or by cursor)
    until an empty or last page, or a page reaching ``lo_ms``. Rows outside
    the range or already seen (overlapping pages) are dropped. A page whose
    newest row is further than ``spacing`` from where it should start is asked
    again twice (a node that lost rows) before the gap is taken as real.

    Returns
    -------
    rows, server_ms
        Rows by timestamp, and the venue clock of the last page.

    Raises
    ------
    SourceError
        If the venue keeps answering rows newer than asked (it does not
        advance) or never ends.
    """
    found: dict[int, Point] = {}
    upper, cursor, server_ms = hi_ms - 1, None, 0
    for _ in range(_MAX_PAGES):
        page = fetch(upper, cursor)
        for _ in range(2):
            if not _misses_newest(page, upper, spacing):
                break
            log.info(
                "%s: page before %d misses its newest rows; asking again", what, upper
            )
            page = fetch(upper, cursor)
        server_ms = page.server_ms
        inside = [r for r in page.rows if lo_ms <= r.ts_ms <= upper]
        if not page.rows or (not inside and min(r.ts_ms for r in page.rows) < lo_ms):
            return found, server_ms
        if not inside:
            raise SourceError(
                f"{what}: bybit answered rows after {upper} again instead of older "
                "ones (the paging does not advance); run the fetch again later"
            )
        for row in inside:
            found.setdefault(row.ts_ms, row)
        oldest = min(r.ts_ms for r in inside)
        if page.cursor is None or oldest <= lo_ms:
            return found, server_ms
        upper, cursor = oldest - 1, page.cursor
    raise SourceError(f"{what}: no end after {_MAX_PAGES} pages; bybit keeps paging")


def kline_page_complete(page: Page, lo_ms: int, hi_ms: int, step_ms: int) -> bool:
    """Whether a kline page holds every bar of ``[lo_ms, hi_ms)`` that exists.

    The bars must follow each other without a hole, the first must contain
    ``lo_ms`` and the last must reach ``hi_ms`` or the venue clock (the bar in
    progress is sent too). An empty page passes (nothing listed yet); a page
    at the listing starts late and is asked again twice before it is taken.
    """
    stamps = sorted({r.ts_ms for r in page.rows if lo_ms - step_ms < r.ts_ms < hi_ms})
    if not stamps:
        return True
    whole = (stamps[-1] - stamps[0]) // step_ms + 1 == len(stamps)
    starts = stamps[0] <= lo_ms
    ends = stamps[-1] + step_ms > min(hi_ms - 1, page.server_ms)
    return bool(whole and starts and ends)


Collect = Callable[[int, int], tuple[list[Any], int]]
"""``collect(lo_ms, hi_ms)``: the rows of a window, ascending, and the venue clock."""


def walk_windows(
    collect: Collect, start_ms: int, end_ms: int, span_ms: int
) -> Iterator[list[Any]]:
    """Walk ``[start_ms, end_ms)`` forward in windows of ``span_ms``.

    Yields each window's rows (oldest window first). Empty windows before the
    first row are skipped (a market listed later than ``start_ms``); an empty
    window after rows have come, ``end_ms`` or the venue clock ends the walk.
    """
    lo, seen = start_ms, False
    while lo < end_ms:
        hi = min(end_ms, lo + span_ms)
        rows, server_ms = collect(lo, hi)
        if rows:
            seen = True
            yield rows
        elif seen:
            return
        if hi > server_ms:
            return
        lo = hi


# --- the adapter ----------------------------------------------------------------------
class BybitSource:
    """Live Bybit v5 adapter (spot and USDT linear perpetuals).

    Parameters
    ----------
    exchange : ccxt.bybit
        A keyless ccxt client (``rallylens.sources._ccxt.make_exchange("bybit")``
        loads spot and linear markets only).
    policy : RetryPolicy, optional
        Retries of every call (default: 6 attempts with backoff).

    Notes
    -----
    * Candles: closed bars only (the envelope's ``time`` tells which bar is
      still open); Bybit's kline carries no trade count or taker volume, so
      those columns are null.
    * Funding: ``interval_hours`` follows the spacing of settlements, so past
      interval changes (8h to 4h, 2h, 1h) are labelled right; the
      instrument's ``fundingInterval`` covers the first settlement.
    * Open interest: base coin as Bybit sends it; ``oi_usd`` is left null
      (not derived).
    """

    venue = VENUE

    def __init__(self, exchange: Any, *, policy: RetryPolicy | None = None) -> None:
        self._exchange = exchange
        self._policy = policy or RetryPolicy()
        self._markets_loaded = False

    # --- protocol ---------------------------------------------------------------------
    def series(self, asset: str) -> list[SeriesKey]:
        """Linear perp 1d candles, funding and 1d open interest; spot 1d candles."""
        base = asset.upper()
        perp, spot = f"{base}/USDT:USDT", f"{base}/USDT"
        return [
            SeriesKey(VENUE, perp, SeriesKind.OHLCV, "1d"),
            SeriesKey(VENUE, perp, SeriesKind.FUNDING, "settle"),
            SeriesKey(VENUE, perp, SeriesKind.OPEN_INTEREST, "1d"),
            SeriesKey(VENUE, spot, SeriesKind.OHLCV, "1d"),
        ]

    def earliest(self, key: SeriesKey, now: datetime) -> datetime | None:
        """Listing time (``launchTime``) of a linear contract; None for spot.

        Bybit serves open interest no further back than the listing, and
        candles and funding start there too. None as well when the market
        cannot be looked up (``fetch`` then raises the reason).
        """
        try:
            market = self._market(key)
        except SourceError as exc:  # fetch raises it again, where callers expect it
            log.info("%s: no listing time (%s)", key, exc)
            return None
        launch = _launch_ms(market)
        return None if launch is None else datetime.fromtimestamp(launch / 1000, UTC)

    def fetch(
        self, key: SeriesKey, start: datetime, end: datetime
    ) -> Iterator[pl.DataFrame]:
        """Rows of ``key`` with ``start <= ts < end``, oldest first, in chunks.

        Raises
        ------
        UnsupportedSymbolError
            Bybit does not list the market, or does not serve the kind for it.
        ConfigError
            The timeframe is not one Bybit serves for the kind, or the times
            are naive.
        SourceError
            Bybit failed after retries (the message says what to do).
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ConfigError(f"{key}: start and end must carry a time zone")
        start_ms, end_ms = _ms(start), _ms(end)
        if key.kind == SeriesKind.OHLCV:
            interval = _lookup(KLINE_INTERVALS, key, "candles")
            return self._fetch_klines(key, interval, start_ms, end_ms)
        if key.kind == SeriesKind.FUNDING:
            if key.timeframe != "settle":
                raise ConfigError(
                    f"{key}: funding series use the timeframe 'settle' (one row "
                    f"per settlement), not {key.timeframe!r}"
                )
            return self._fetch_funding(key, start_ms, end_ms)
        if key.kind == SeriesKind.OPEN_INTEREST:
            interval = _lookup(OI_INTERVALS, key, "open interest")
            return self._fetch_open_interest(key, interval, start_ms, end_ms)
        raise UnsupportedSymbolError(
            f"{key}: rallylens reads ohlcv, funding and open_interest from bybit, "
            f"not {key.kind.value}; take it from another venue or a file"
        )

    # --- markets ----------------------------------------------------------------------
    def _load_markets(self) -> None:
        if self._markets_loaded:
            return
        exchange = self._exchange

        def load() -> Any:
            try:
                return exchange.load_markets(reload=True)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                raise MalformedPayloadError(f"bybit markets: {exc}") from exc

        call_with_retries(
            exchange, load, what="bybit markets", policy=self._policy, validate=_both
        )
        self._markets_loaded = True

    def _market(self, key: SeriesKey) -> Mapping[str, Any]:
        if key.venue != VENUE:
            raise ConfigError(f"{key} is not a bybit series; pass it to its own venue")
        cached = self._markets_loaded
        self._load_markets()
        try:
            market = self._lookup(key.market)
        except UnsupportedSymbolError:
            if not cached:
                raise
            self._markets_loaded = False  # listed since, or an earlier cut answer
            self._load_markets()
            market = self._lookup(key.market)
        if not (market.get("spot") or (market.get("linear") and market.get("swap"))):
            raise UnsupportedSymbolError(
                f"{key}: rallylens reads bybit spot and linear perpetuals only; "
                f"{key.market} is {market.get('type')}"
            )
        if key.kind != SeriesKind.OHLCV and market.get("spot"):
            raise UnsupportedSymbolError(
                f"{key}: bybit has no {key.kind.value} for the spot market "
                f"{key.market}; use the perpetual {key.market}:{market.get('quote')}"
            )
        return market

    def _lookup(self, symbol: str) -> Mapping[str, Any]:
        market: Mapping[str, Any] = call_with_retries(
            self._exchange,
            self._exchange.market,
            symbol,
            what=f"bybit {symbol}",
            policy=self._policy,
        )
        return market

    def _request(
        self,
        func: Callable[[dict[str, Any]], Any],
        params: dict[str, Any],
        parse: Callable[[Any, str], Page],
        what: str,
    ) -> Page:
        import ccxt

        def attempt() -> Page:
            try:
                payload = func(params)
            except ccxt.BadSymbol:
                raise
            except ccxt.BadRequest as exc:  # 10001 "params error: symbol invalid"
                if "symbol" in str(exc).lower():
                    raise ccxt.BadSymbol(str(exc)) from exc
                raise
            return parse(payload, what)

        page: Page = call_with_retries(
            self._exchange, attempt, what=what, policy=self._policy
        )
        return page

    # --- candles ----------------------------------------------------------------------
    def _fetch_klines(
        self, key: SeriesKey, interval: str, start_ms: int, end_ms: int
    ) -> Iterator[pl.DataFrame]:
        market = self._market(key)
        step = _step_ms(key.timeframe)
        params = {
            "category": "spot" if market.get("spot") else "linear",
            "symbol": market["id"],
            "interval": interval,
            "limit": KLINE_LIMIT,
        }
        what = f"bybit {key.market} {key.timeframe} candles"

        def ask(lo: int, hi: int) -> Page:
            request = {**params, "start": lo, "end": hi - 1}
            func = self._exchange.publicGetV5MarketKline
            return self._request(func, request, parse_kline_page, what)

        def collect(lo: int, hi: int) -> tuple[list[Any], int]:
            page = ask(lo, hi)
            for _ in range(2):
                if kline_page_complete(page, lo, hi, step):
                    break
                log.info("%s: bars missing in [%d, %d); asking again", what, lo, hi)
                page = ask(lo, hi)
            closed = {
                r.ts_ms: r
                for r in page.rows
                if lo <= r.ts_ms < hi and r.ts_ms + step <= page.server_ms
            }
            return [closed[t] for t in sorted(closed)], page.server_ms

        for rows in walk_windows(collect, start_ms, end_ms, KLINE_LIMIT * step):
            yield kline_frame(rows)

    # --- funding ----------------------------------------------------------------------
    def _fetch_funding(
        self, key: SeriesKey, start_ms: int, end_ms: int
    ) -> Iterator[pl.DataFrame]:
        market = self._market(key)
        default = funding_hours_from_minutes(
            (market.get("info") or {}).get("fundingInterval"), symbol=market["id"]
        )
        start_ms = max(start_ms, _launch_ms(market) or start_ms)  # none before
        base = {"category": "linear", "symbol": market["id"], "limit": FUNDING_LIMIT}
        what = f"bybit {key.market} funding"

        def spacing(stamps: list[int]) -> int:
            gap = stamps[0] - stamps[1] if len(stamps) > 1 else 0
            return gap if _spacing_hours(gap) else default * _HOUR_MS

        def collect(lo: int, hi: int) -> tuple[list[Any], int]:
            def fetch(upper: int, cursor: str | None) -> Page:
                request = {**base, "startTime": lo, "endTime": upper}
                func = self._exchange.publicGetV5MarketFundingHistory
                page = self._request(func, request, parse_funding_page, what)
                full = len(page.rows) >= FUNDING_LIMIT  # older rows may follow
                return Page(page.rows, page.server_ms, "endTime" if full else None)

            found, server_ms = walk_back(fetch, lo, hi, spacing=spacing, what=what)
            return [found[t] for t in sorted(found)], server_ms

        span = PAGES_PER_CHUNK * FUNDING_LIMIT * default * _HOUR_MS
        lookback = max(FUNDING_HOURS) * _HOUR_MS  # the settlement before start
        prev: tuple[int, int] | None = None
        for rows in walk_windows(collect, start_ms - lookback, end_ms, span):
            hours = funding_intervals(
                [r.ts_ms for r in rows],
                default_hours=default,
                previous_ms=None if prev is None else prev[0],
                previous_hours=None if prev is None else prev[1],
            )
            prev = (rows[-1].ts_ms, hours[-1])
            kept = [i for i, r in enumerate(rows) if r.ts_ms >= start_ms]
            if kept:
                yield funding_frame([rows[i] for i in kept], [hours[i] for i in kept])

    # --- open interest ----------------------------------------------------------------
    def _fetch_open_interest(
        self, key: SeriesKey, interval: str, start_ms: int, end_ms: int
    ) -> Iterator[pl.DataFrame]:
        market = self._market(key)
        step = _step_ms(key.timeframe)
        base = {
            "category": "linear",
            "symbol": market["id"],
            "intervalTime": interval,
            "limit": OI_LIMIT,
        }
        what = f"bybit {key.market} {key.timeframe} open interest"

        def collect(lo: int, hi: int) -> tuple[list[Any], int]:
            def fetch(upper: int, cursor: str | None) -> Page:
                request = {**base, "startTime": lo, "endTime": hi - 1}
                if cursor is not None:
                    request["cursor"] = cursor
                func = self._exchange.publicGetV5MarketOpenInterest
                return self._request(func, request, parse_open_interest_page, what)

            found, server_ms = walk_back(
                fetch, lo, hi, spacing=lambda s: step, what=what
            )
            return [found[t] for t in sorted(found)], server_ms

        lo = max(start_ms, _launch_ms(market) or start_ms)  # none before listing
        span = PAGES_PER_CHUNK * OI_LIMIT * step
        for rows in walk_windows(collect, lo, end_ms, span):
            yield open_interest_frame(rows)


# --- small helpers --------------------------------------------------------------------
def _ms(when: datetime) -> int:
    """Epoch ms rounded up, so ``ts >= start`` holds for sub-ms starts too."""
    delta = when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return -(-micros // 1000)


def _step_ms(timeframe: str) -> int:
    step = timeframe_duration(timeframe)
    assert step is not None
    return int(step.total_seconds() * 1000)


def _lookup(table: Mapping[str, str], key: SeriesKey, what: str) -> str:
    try:
        return table[key.timeframe]
    except KeyError:
        raise ConfigError(
            f"{key}: bybit serves {what} in {', '.join(table)}, not {key.timeframe!r}"
        ) from None


def _launch_ms(market: Mapping[str, Any]) -> int | None:
    """Listing time of a linear contract (spot markets have none)."""
    if market.get("spot"):
        return None
    launch = (market.get("info") or {}).get("launchTime")
    try:
        return int(str(launch)) or None
    except ValueError:
        return None


def _both(markets: Any) -> bool:
    """Whether ``load_markets`` got spot and linear markets (a cut answer may not)."""
    values = list(markets.values()) if isinstance(markets, Mapping) else []
    spot = any(m.get("spot") for m in values)
    return spot and any(bool(m.get("linear")) for m in values)
