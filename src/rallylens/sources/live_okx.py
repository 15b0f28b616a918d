"""OKX (API v5) live adapter: spot and swap candles, funding, open interest.

Every endpoint is public, answers ``{"code": "0", "msg": "", "data": [...]}``
with numbers as strings and rows NEWEST FIRST, and takes two exclusive time
bounds in milliseconds (an "older than" and a "newer than" cursor); a page
holds the newest ``limit`` rows inside them.

=========================================  =============================  =========
Endpoint (``/api/v5/...``)                 Parameters, page               History
=========================================  =============================  =========
``market/history-candles``                 ``instId bar after before      since
                                           limit`` (100 asked, 300 max)   listing
``public/funding-rate-history``            ``instId after before limit``  3 months
                                           (100 asked, 400 max)
``rubik/stat/contracts/                    ``instId period end begin      1,440
open-interest-history``                    limit`` (100 max)              entries
``rubik/stat/contracts/                    ``ccy period end begin``       2 d / 30 d
open-interest-volume``                     (no limit)                     / 180 d
=========================================  =============================  =========

A candle row is ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``::

    ["1597026383085", "3.721", "3.743", "3.677", "3.708", "8422410",
     "22698348.04828491", "12698348.04828491", "1"]

``vol`` is base coins on spot but contracts on swaps (0.01 BTC each for
BTC-USDT-SWAP), where ``volCcy`` is the base coins; ``volCcyQuote`` is the
quote currency on both. Only completed bars (``confirm`` "1") are kept; OKX
gives no trade count or taker split. Daily bars use ``1Dutc`` (``1D`` opens
at UTC+8 midnight).

A funding row (``realizedRate`` is what was paid, ``fundingRate`` the
forecast)::

    {"fundingRate": "0.0000746604960499", "fundingTime": "1703059200000",
     "instId": "BTC-USD-SWAP", "instType": "SWAP", "method": "next_period",
     "realizedRate": "0.0000746572360545", "formulaType": "noRate"}

OKX does not state the interval a rate covers: it is the spacing from the
previous settlement (8 h for most swaps, 4, 2 or 1 h for some, changing
over time), see :func:`funding_intervals`.

Open interest: ``open-interest-history`` gives one contract's
``[ts, oi (contracts), oiCcy (coins), oiUsd]``, stored for the swap market
(``BTC/USDT:USDT``) in coins and USD; ``open-interest-volume`` gives the
currency's total over all OKX futures and swaps, ``[ts, oi (USD), vol
(USD)]``, stored as the aggregate ``BTC/*:*`` in USD only. Its ``1D`` rows
open at UTC+8 midnight (16:00 UTC) and are kept with the venue's time.

Paging walks forward in time windows ``[lo, hi)`` (asked as ``newer than
lo - 1``, ``older than hi``): a full page means the window held more rows
than a page, so the window is halved and asked again; the next window
starts just after the newest row received, so rows dropped from the top of
a page are asked for again; an empty window is asked twice before it is
skipped. Rows are deduplicated and yielded oldest first.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import (
    ConfigError,
    GapWarning,
    SourceError,
    UnsupportedSymbolError,
)
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
    timeframe_duration,
    validate,
)
from rallylens.sources._ccxt import RetryPolicy, call_with_retries

__all__ = [
    "CANDLE_BARS",
    "CURRENCY_OI_PERIODS",
    "FUNDING_HISTORY",
    "OI_PERIODS",
    "OkxSource",
    "candles_frame",
    "funding_frame",
    "funding_intervals",
    "open_interest_frame",
    "walk_windows",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

VENUE = "okx"
_H_MS = 3_600_000

CANDLE_BARS: dict[str, str] = {
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
"""rallylens timeframe -> OKX ``bar`` (UTC-aligned from 6 h up)."""
OI_PERIODS: dict[str, str] = {
    tf: bar for tf, bar in CANDLE_BARS.items() if tf not in ("1m", "3m")
}
"""rallylens timeframe -> ``period`` of one contract's OI history."""
CURRENCY_OI_PERIODS: dict[str, tuple[str, timedelta]] = {
    "5m": ("5m", timedelta(days=2)),
    "1h": ("1H", timedelta(days=30)),
    "1d": ("1D", timedelta(days=180)),
}
"""rallylens timeframe -> (``period``, history kept) of the currency-wide OI."""
FUNDING_HISTORY = timedelta(days=92)
"""OKX serves about three months of funding history."""
OI_ENTRIES = 1440
"""Entries of one contract's OI history OKX keeps per period."""
OI_FLOOR = {
    "1d": datetime(2024, 1, 1, tzinfo=UTC),
    "other": datetime(2024, 2, 1, tzinfo=UTC),
}
"""OKX's contract OI history starts no earlier than these."""
FUNDING_INTERVALS_H = (1, 2, 4, 6, 8)
"""Settlement intervals OKX uses (hours)."""
_MAX_INTERVAL_MS = max(FUNDING_INTERVALS_H) * _H_MS
_WINDOW_ROWS = 96  # rows expected per window, under every page limit


@dataclass(frozen=True)
class _Endpoint:
    """One paged OKX endpoint: ccxt method, cursor names, page size, row shape."""

    method: str
    older: str
    newer: str
    row_ok: Callable[[Any], bool]
    page_rows: int = 100
    send_limit: bool = True
    ts_of: Callable[[Any], int] = lambda row: int(row[0])


def _is_array(size: int) -> Callable[[Any], bool]:
    def check(row: Any) -> bool:
        return isinstance(row, list) and len(row) >= size and str(row[0]).isdigit()

    return check


def _is_funding(row: Any) -> bool:
    return isinstance(row, dict) and str(row.get("fundingTime", "")).isdigit()


def _funding_ts(row: dict[str, Any]) -> int:
    return int(row["fundingTime"])


_CANDLES = _Endpoint("publicGetMarketHistoryCandles", "after", "before", _is_array(9))
_FUNDING = _Endpoint(
    "publicGetPublicFundingRateHistory",
    "after",
    "before",
    _is_funding,
    ts_of=_funding_ts,
)
_OI = _Endpoint(
    "publicGetRubikStatContractsOpenInterestHistory", "end", "begin", _is_array(4)
)
_CCY_OI = _Endpoint(
    "publicGetRubikStatContractsOpenInterestVolume",
    "end",
    "begin",
    _is_array(3),
    send_limit=False,  # OKX takes none; 100 is the page we assume it may cut at
)


# --- paging -------------------------------------------------------------------
def walk_windows(
    fetch_page: Callable[[int, int], list[T]],
    start_ms: int,
    end_ms: int,
    *,
    ts_of: Callable[[T], int],
    window_ms: int,
    page_rows: int,
    min_window_ms: int = 1,
    max_requests: int = 100_000,
) -> Iterator[list[T]]:
    """Walk a newest-first, two-cursor endpoint forward in time windows.

    Parameters
    ----------
    fetch_page : callable
        ``fetch_page(lo, hi)`` returns the venue's page for rows with
        ``lo <= ts < hi`` (any order, possibly with rows outside).
    start_ms, end_ms : int
        The range wanted, ``start_ms`` included, ``end_ms`` excluded.
    ts_of : callable
        Timestamp (ms) of a row.
    window_ms : int
        First window length; it halves on full pages and doubles (up to 64
        times this) on pages under a quarter full.
    page_rows : int
        Rows of a full page: a page this long may have been cut.

    Yields
    ------
    list
        Rows inside the range, sorted, each timestamp once over the walk.

    Raises
    ------
    SourceError
        If even a ``min_window_ms`` window fills a page (the venue ignores
        the bounds), or ``max_requests`` did not reach ``end_ms``.
    """
    cursor, window, asked_again = start_ms, window_ms, False
    for _ in range(max_requests):
        if cursor >= end_ms:
            return
        hi = min(cursor + window, end_ms)
        page = fetch_page(cursor, hi)
        if len(page) >= page_rows:
            if hi - cursor <= min_window_ms:
                raise SourceError(
                    f"a {hi - cursor} ms window from {cursor} still fills a page "
                    f"of {page_rows} rows: the venue ignores the time bounds"
                )
            window = max(min_window_ms, (hi - cursor) // 2)
            log.debug(
                "full page for %d..%d: window halved to %d ms", cursor, hi, window
            )
            continue
        rows = sorted(
            {ts_of(r): r for r in page if cursor <= ts_of(r) < hi}.values(), key=ts_of
        )
        if not rows and not asked_again:
            asked_again = True  # an empty answer may be a glitch: ask once more
            log.debug("empty page for %d..%d: asking again", cursor, hi)
            continue
        asked_again = False
        if rows:
            yield rows
        cursor = ts_of(rows[-1]) + 1 if rows else hi
        if len(page) * 4 < page_rows:
            window = min(window * 2, window_ms * 64)
    raise SourceError(
        f"paging did not reach {end_ms} after {max_requests} requests; the venue "
        "keeps answering the same range"
    )


# --- conversions --------------------------------------------------------------
def _ts(ms: Sequence[int]) -> pl.Series:
    return (
        pl.Series(TS, list(ms), dtype=pl.Int64).cast(pl.Datetime("ms")).cast(TS_DTYPE)
        if ms
        else pl.Series(TS, [], dtype=TS_DTYPE)
    )


def _float(text: object) -> float | None:
    return None if text in (None, "") else float(str(text))


def _floats(rows: Sequence[Sequence[str]], index: int) -> pl.Series:
    return pl.Series([_float(r[index]) for r in rows], dtype=pl.Float64)


def _nulls(n: int, dtype: pl.DataType) -> pl.Series:
    return pl.Series([None] * n, dtype=dtype)


def candles_frame(rows: Sequence[Sequence[str]], *, contract: bool) -> pl.DataFrame:
    """Canonical candles from OKX candle rows, completed bars only.

    Parameters
    ----------
    rows : sequence of list of str
        ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``, any order.
    contract : bool
        Rows of a swap or future: base volume is ``volCcy`` (``vol`` counts
        contracts); on spot it is ``vol``.

    Returns
    -------
    pl.DataFrame
        Schema CANDLES sorted by ``ts``; ``trades`` and taker columns null.
    """
    done = sorted((r for r in rows if r[8] == "1"), key=lambda r: int(r[0]))
    n = len(done)
    frame = pl.DataFrame(
        {
            TS: _ts([int(r[0]) for r in done]),
            OPEN: _floats(done, 1),
            HIGH: _floats(done, 2),
            LOW: _floats(done, 3),
            CLOSE: _floats(done, 4),
            VOLUME: _floats(done, 6 if contract else 5),
            QUOTE_VOLUME: _floats(done, 7),
            TRADES: _nulls(n, pl.Int64()),
            TAKER_BUY_BASE: _nulls(n, pl.Float64()),
            TAKER_BUY_QUOTE: _nulls(n, pl.Float64()),
        }
    )
    return validate(frame, CANDLES)


def funding_intervals(
    ts_ms: Sequence[int], *, previous_ms: int | None = None, default_hours: int = 8
) -> list[int]:
    """Interval (hours) each settlement paid for: the spacing from the previous one.

    Parameters
    ----------
    ts_ms : sequence of int
        Settlement times (ms), ascending.
    previous_ms : int, optional
        The settlement before ``ts_ms[0]``; without it the first interval is
        the spacing to the next settlement (or ``default_hours`` alone).

    Notes
    -----
    A spacing that is not an OKX interval (1, 2, 4, 6 or 8 h; e.g. 16 h
    around a settlement the venue does not list) keeps the interval before
    it and warns.

    Examples
    --------
    >>> h = 3_600_000
    >>> funding_intervals([8 * h, 16 * h, 20 * h, 21 * h], previous_ms=0)
    [8, 8, 4, 1]
    """
    out: list[int] = []
    prev = previous_ms
    for i, ts in enumerate(ts_ms):
        if prev is not None:
            spacing = (ts - prev) / _H_MS
        elif i + 1 < len(ts_ms):
            spacing = (ts_ms[i + 1] - ts) / _H_MS
        else:
            spacing = float(default_hours)
        if spacing in FUNDING_INTERVALS_H:
            out.append(int(spacing))
        else:
            kept = out[-1] if out else default_hours
            warnings.warn(
                f"okx funding settlements {spacing:g} h apart before {ts} ms; "
                f"that is not an OKX interval, kept {kept} h (a settlement is "
                "missing from the venue's history)",
                GapWarning,
                stacklevel=2,
            )
            out.append(kept)
        prev = ts
    return out


def _funding_rate(row: dict[str, Any]) -> float | None:
    realized = _float(row.get("realizedRate"))
    return realized if realized is not None else _float(row.get("fundingRate"))


def funding_frame(
    rows: Sequence[dict[str, Any]], *, previous_ms: int | None = None
) -> pl.DataFrame:
    """Canonical funding from OKX funding-history rows.

    Parameters
    ----------
    rows : sequence of dict
        ``fundingTime`` (ms string), ``realizedRate`` (decimal string, the
        rate paid; ``fundingRate`` when empty), any order.
    previous_ms : int, optional
        The settlement before the first row (for its interval).

    Returns
    -------
    pl.DataFrame
        Schema FUNDING: ``rate`` decimal per settlement, ``interval_hours``
        from :func:`funding_intervals`; OHLC of the rate null.

    Examples
    --------
    >>> row = {"fundingTime": "28800000", "realizedRate": "0.00010000"}
    >>> funding_frame([row], previous_ms=0).select("rate", "interval_hours").row(0)
    (0.0001, 8)
    """
    ordered = sorted(rows, key=lambda r: int(r["fundingTime"]))
    stamps = [int(r["fundingTime"]) for r in ordered]
    none = _nulls(len(ordered), pl.Float64())
    frame = pl.DataFrame(
        {
            TS: _ts(stamps),
            RATE: pl.Series([_funding_rate(r) for r in ordered], dtype=pl.Float64),
            INTERVAL_HOURS: pl.Series(
                funding_intervals(stamps, previous_ms=previous_ms), dtype=pl.Int32
            ),
            RATE_OPEN: none,
            RATE_HIGH: none,
            RATE_LOW: none,
        }
    )
    return validate(frame, FUNDING)


def open_interest_frame(
    rows: Sequence[Sequence[str]], *, per_contract: bool
) -> pl.DataFrame:
    """Canonical open interest from OKX rubik rows.

    Parameters
    ----------
    rows : sequence of list of str
        ``[ts, oi, oiCcy, oiUsd]`` of one contract (``per_contract``), or
        ``[ts, oi (USD), vol (USD)]`` of a whole currency.

    Returns
    -------
    pl.DataFrame
        Schema OPEN_INTEREST: ``oi_base`` in coins (null for the currency
        total), ``oi_usd``; both as OKX sends them, so not derived.
    """
    ordered = sorted(rows, key=lambda r: int(r[0]))
    n = len(ordered)
    frame = pl.DataFrame(
        {
            TS: _ts([int(r[0]) for r in ordered]),
            OI_BASE: _floats(ordered, 2) if per_contract else _nulls(n, pl.Float64()),
            OI_USD: _floats(ordered, 3 if per_contract else 1),
            OI_BASE_DERIVED: pl.Series([False] * n, dtype=pl.Boolean),
            OI_USD_DERIVED: pl.Series([False] * n, dtype=pl.Boolean),
        }
    )
    return validate(frame, OPEN_INTEREST)


# --- plumbing -----------------------------------------------------------------
def _envelope(row_ok: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def check(response: Any) -> bool:
        if not isinstance(response, dict) or response.get("code") != "0":
            return False
        data = response.get("data")
        return isinstance(data, list) and all(row_ok(r) for r in data)

    return check


def _ms(moment: datetime, what: str) -> int:
    if moment.tzinfo is None:
        raise ConfigError(f"{what} {moment} has no time zone; pass e.g. ...+00:00")
    return int(moment.timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _step_ms(timeframe: str) -> int:
    step = timeframe_duration(timeframe)
    assert step is not None  # settle/snapshot timeframes are refused earlier
    return int(step.total_seconds() * 1000)


def _is_currency(market: str) -> bool:
    parsed = parse_market(market)
    return parsed.quote == "*" and parsed.settle == "*"


def _has_types(markets: Any) -> bool:
    if not isinstance(markets, dict):
        return False
    return {"spot", "swap"} <= {m.get("type") for m in markets.values()}


def _check_key(key: SeriesKey) -> None:
    """Refuse keys OKX (or this adapter) cannot serve, naming what it can."""
    if key.venue != VENUE:
        raise ConfigError(f"{key} is not an okx series; OkxSource serves venue 'okx'")
    kind, market_type = key.kind, parse_market(key.market).market_type
    if kind not in _SERVED:
        raise ConfigError(
            f"{key}: okx serves ohlcv, funding and open_interest, not {kind.value}"
        )
    types, timeframes = _SERVED[kind]
    if _is_currency(key.market):
        timeframes = list(CURRENCY_OI_PERIODS)
    if market_type not in types or (
        market_type == "aggregate" and not _is_currency(key.market)
    ):
        raise ConfigError(
            f"{key}: okx {kind.value} is served for {', '.join(types)} markets "
            f"(a currency total as 'BTC/*:*'), not for a {market_type} market"
        )
    if key.timeframe not in timeframes:
        raise ConfigError(
            f"{key}: okx has no {kind.value} at timeframe {key.timeframe!r}; use "
            f"one of {', '.join(timeframes)}"
        )


_SERVED: dict[SeriesKind, tuple[tuple[str, ...], Sequence[str]]] = {
    SeriesKind.OHLCV: (("spot", "perp", "future"), list(CANDLE_BARS)),
    SeriesKind.FUNDING: (("perp",), ["settle"]),
    SeriesKind.OPEN_INTEREST: (("perp", "future", "aggregate"), list(OI_PERIODS)),
}


def _funding_chunks(
    walk: Iterator[list[dict[str, Any]]], start_ms: int
) -> Iterator[pl.DataFrame]:
    """Funding frames from pages walked from one interval before ``start_ms``.

    Rows before ``start_ms`` only give the first settlement its interval.
    """
    previous: int | None = None
    for rows in walk:
        stamps = [_funding_ts(r) for r in rows]
        before = [ts for ts in stamps if ts < start_ms]
        fresh = [r for r, ts in zip(rows, stamps, strict=True) if ts >= start_ms]
        if before:
            previous = max(before)
        if fresh:
            yield funding_frame(fresh, previous_ms=previous)
            previous = max(stamps)


# --- the source ---------------------------------------------------------------
class OkxSource:
    """OKX spot and swap series through a ccxt ``okx`` client.

    Parameters
    ----------
    exchange : ccxt.okx
        A public client, e.g. ``make_exchange("okx")`` (spot and swap markets).
    policy : RetryPolicy, optional
        How hard to retry each request.

    Notes
    -----
    Serves ``ohlcv`` of spot, swap and future markets (timeframes in
    :data:`CANDLE_BARS`), ``funding`` (``settle``) of swaps, and
    ``open_interest`` of one swap or future (:data:`OI_PERIODS`) or of a
    whole currency as ``BTC/*:*`` (:data:`CURRENCY_OI_PERIODS`).
    """

    venue = VENUE

    def __init__(self, exchange: Any, *, policy: RetryPolicy | None = None) -> None:
        if getattr(exchange, "id", None) != VENUE:
            raise ConfigError(
                f"OkxSource needs a ccxt 'okx' client, got "
                f"{getattr(exchange, 'id', exchange)!r}; build one with "
                "make_exchange('okx')"
            )
        self.exchange = exchange
        self.policy = policy or RetryPolicy()

    def series(self, asset: str) -> list[SeriesKey]:
        """Spot and swap daily candles, swap funding, swap and currency-wide OI."""
        a = asset.upper()
        spot, swap = f"{a}/USDT", f"{a}/USDT:USDT"
        return [
            SeriesKey(VENUE, spot, SeriesKind.OHLCV, "1d"),
            SeriesKey(VENUE, swap, SeriesKind.OHLCV, "1d"),
            SeriesKey(VENUE, swap, SeriesKind.FUNDING, "settle"),
            SeriesKey(VENUE, swap, SeriesKind.OPEN_INTEREST, "1d"),
            SeriesKey(VENUE, f"{a}/*:*", SeriesKind.OPEN_INTEREST, "1d"),
        ]

    def earliest(self, key: SeriesKey, now: datetime) -> datetime | None:
        """Oldest time OKX serves for ``key`` (candles: the listing, via markets)."""
        _check_key(key)
        if key.kind == SeriesKind.FUNDING:
            return now - FUNDING_HISTORY
        if key.kind == SeriesKind.OPEN_INTEREST and _is_currency(key.market):
            return now - CURRENCY_OI_PERIODS[key.timeframe][1]
        step = timedelta(milliseconds=_step_ms(key.timeframe))
        if key.kind == SeriesKind.OPEN_INTEREST:
            floor = OI_FLOOR["1d" if key.timeframe == "1d" else "other"]
            return max(now - OI_ENTRIES * step, floor)
        created = self._market(key.market).get("created")
        if created is None:
            return None
        return datetime.fromtimestamp(int(created) / 1000, UTC) - step

    def fetch(
        self, key: SeriesKey, start: datetime, end: datetime
    ) -> Iterator[pl.DataFrame]:
        """Rows of ``key`` with ``start <= ts < end``, oldest first, a window a chunk.

        Raises
        ------
        ConfigError
            OKX does not serve this kind, market type or timeframe.
        UnsupportedSymbolError
            OKX does not list the market (raised here, before iterating).
        SourceError
            The venue failed after retries.
        """
        _check_key(key)
        lo, hi = _ms(start, "start"), _ms(end, "end")
        if key.kind == SeriesKind.FUNDING:
            return self._funding(key, lo, hi)
        if key.kind == SeriesKind.OPEN_INTEREST:
            return self._open_interest(key, lo, hi)
        return self._candles(key, lo, hi)

    def _candles(self, key: SeriesKey, lo: int, hi: int) -> Iterator[pl.DataFrame]:
        market = self._market(key.market)
        if market.get("created") is not None:  # nothing before the listing
            lo = max(lo, int(market["created"]) - _step_ms(key.timeframe))
        params = {"instId": market["id"], "bar": CANDLE_BARS[key.timeframe]}
        contract = bool(market.get("contract"))
        walk = self._walk(_CANDLES, params, key, lo, hi)
        frames = (candles_frame(rows, contract=contract) for rows in walk)
        return (f for f in frames if f.height)  # a lone open bar gives none

    def _funding(self, key: SeriesKey, lo: int, hi: int) -> Iterator[pl.DataFrame]:
        params = {"instId": self._market(key.market)["id"]}
        walk = self._walk(  # from one interval earlier: the first row's interval
            _FUNDING,
            params,
            key,
            lo - _MAX_INTERVAL_MS,
            hi,
            step_ms=_MAX_INTERVAL_MS,
            min_window_ms=_H_MS,
        )
        return _funding_chunks(walk, lo)

    def _open_interest(
        self, key: SeriesKey, lo: int, hi: int
    ) -> Iterator[pl.DataFrame]:
        if _is_currency(key.market):
            self._check_currency(key)
            period = CURRENCY_OI_PERIODS[key.timeframe][0]
            walk = self._walk(
                _CCY_OI, {"ccy": key.asset, "period": period}, key, lo, hi
            )
            return (open_interest_frame(r, per_contract=False) for r in walk)
        inst = self._market(key.market)["id"]
        params = {"instId": inst, "period": OI_PERIODS[key.timeframe]}
        walk = self._walk(_OI, params, key, lo, hi)
        return (open_interest_frame(r, per_contract=True) for r in walk)

    # --- plumbing ------------------------------------------------------------------
    def _walk(
        self,
        endpoint: _Endpoint,
        params: dict[str, str],
        key: SeriesKey,
        start_ms: int,
        end_ms: int,
        *,
        step_ms: int | None = None,
        min_window_ms: int | None = None,
    ) -> Iterator[list[Any]]:
        """:func:`walk_windows` over ``endpoint``, every page through retries."""
        method = getattr(self.exchange, endpoint.method)
        check = _envelope(endpoint.row_ok)
        step = step_ms or _step_ms(key.timeframe)

        def fetch_page(lo: int, hi: int) -> list[Any]:
            query = {
                **params,
                endpoint.newer: str(max(lo - 1, 0)),
                endpoint.older: str(hi),
            }
            if endpoint.send_limit:
                query["limit"] = str(endpoint.page_rows)
            response = call_with_retries(
                self.exchange,
                method,
                query,
                what=f"{key} {_iso(lo)}..{_iso(hi)}",
                policy=self.policy,
                validate=check,
            )
            return list(response["data"])

        return walk_windows(
            fetch_page,
            start_ms,
            end_ms,
            ts_of=endpoint.ts_of,
            window_ms=_WINDOW_ROWS * step,
            page_rows=endpoint.page_rows,
            min_window_ms=min_window_ms or step,
        )

    def _markets(self) -> dict[str, Any]:
        """The client's markets, loaded once (spot and swap must both be there)."""
        markets = self.exchange.markets
        if not _has_types(markets):  # a listing cut short is loaded again
            markets = call_with_retries(
                self.exchange,
                self.exchange.load_markets,
                True,
                what="okx markets (public/instruments)",
                policy=self.policy,
                validate=_has_types,
            )
        return dict(markets)

    def _market(self, symbol: str) -> dict[str, Any]:
        market = self._markets().get(symbol)
        if market is None:
            raise UnsupportedSymbolError(
                f"okx does not list {symbol!r}; write spot as 'BTC/USDT' and the "
                "USDT swap as 'BTC/USDT:USDT', or drop it from the fetch config"
            )
        return dict(market)

    def _check_currency(self, key: SeriesKey) -> None:
        markets = self._markets().values()
        if not any(m.get("contract") and m.get("base") == key.asset for m in markets):
            raise UnsupportedSymbolError(
                f"{key}: okx lists no swap or future of {key.asset}, so it has no "
                "open interest total for it; check the asset"
            )
