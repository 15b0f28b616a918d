"""Binance live adapter: spot and USDⓈ-M klines with taker volume, funding, OI.

Every call goes through ccxt's implicit API of one ``binance`` client, so the
host rewrite, rate limiting and retries come from :mod:`._ccxt`:

=================  ==================================  =====  ===================
series             endpoint (ccxt method)              page   history served
=================  ==================================  =====  ===================
spot ``ohlcv``     ``/api/v3/klines``                  1000   since listing
                   (``publicGetKlines``)
perp ``ohlcv``     ``/fapi/v1/klines``                 1500   since listing
                   (``fapiPublicGetKlines``)
perp ``funding``   ``/fapi/v1/fundingRate``            1000   since listing
                   (``fapiPublicGetFundingRate``)
perp ``open_``     ``/futures/data/openInterestHist``  500    the last 30 days
``interest``       (``fapiDataGetOpenInterestHist``)
=================  ==================================  =====  ===================

ccxt's unified ``fetch_ohlcv`` drops Binance's trade count and taker-buy
columns, hence the raw kline endpoints. A kline is a 12-field array::

    [1704067200000, "42283.58", "42554.57", "42261.02", "42475.23",
     "1271.68108", 1704070799999, "53957248.97", 47134, "682.57581",
     "28957416.81", "0"]

open time (ms), open, high, low, close, volume (base), close time, quote
volume, trades, taker-buy base, taker-buy quote, ignore. Only closed bars are
returned (``open + bar <= now``).

Funding rows ``{"symbol": "BTCUSDT", "fundingTime": 1704067200001,
"fundingRate": "0.00037409", "markPrice": "42283.5"}`` hold a decimal rate per
settlement; times carry milliseconds of jitter and are settled on the second.
Binance does not say how long each settlement interval was (8h for most
symbols, 4h or 1h for some, and a symbol's interval can change), so each
row's ``interval_hours`` is the spacing to the previous settlement rounded to
1, 2, 4 or 8 hours. The previous settlement is fetched with the page (one
interval of look-back), so a resumed fetch labels rows exactly as a full one.
A symbol's very first settlement uses the spacing to the next one, then
``/fapi/v1/fundingInfo`` (``fundingIntervalHours`` of adjusted symbols),
then 8.

Open-interest rows ``{"sumOpenInterest": "75375.617", "sumOpenInterestValue":
"3248828883.71", "timestamp": 1642179900000}`` give OI in base and in USD.
Binance keeps 30 days and answers an older ``startTime`` with HTTP 400
(``-1130 parameter 'startTime' is invalid.``), so the adapter never asks for
more than :data:`OI_HISTORY` minus a minute of clock-skew margin. It asks in
windows of at most 500 periods, which reads the same whether the venue
anchors a page at ``startTime`` or at ``endTime``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ConfigError, UnsupportedSymbolError
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
    VOLUME,
    SeriesKey,
    parse_market,
    validate,
)
from rallylens.sources._ccxt import RetryPolicy, call_with_retries, paginate_by_time

__all__ = [
    "OI_HISTORY",
    "BinanceSource",
    "funding_interval_hours",
    "label_intervals",
    "parse_funding",
    "parse_klines",
    "parse_open_interest",
]

log = logging.getLogger(__name__)

VENUE = "binance"
OI_HISTORY = timedelta(days=30)
"""How far back ``/futures/data/openInterestHist`` serves."""
_OI_SKEW = timedelta(minutes=1)
_KLINE_LIMIT = {"spot": 1000, "perp": 1500}
_FUNDING_LIMIT = 1000
_OI_LIMIT = 500
_MINUTE_MS = 60_000
_HOUR_MS = 60 * _MINUTE_MS
_TIMEFRAME_MS = {
    **{f"{n}m": n * _MINUTE_MS for n in (1, 3, 5, 15, 30)},
    **{f"{n}h": n * _HOUR_MS for n in (1, 2, 4, 6, 8, 12)},
    "1d": 24 * _HOUR_MS,
}
"""Kline intervals served (Binance's 3d, 1w and 1M bars do not open on the epoch)."""
_OI_PERIODS = ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
_FUNDING_HOURS = (1, 2, 4, 8)
_DEFAULT_FUNDING_HOURS = 8
_FUNDING_LOOKBACK_MS = 8 * _HOUR_MS + _MINUTE_MS
"""Look-back before ``start`` that holds the previous settlement (longest interval)."""

Row = dict[str, Any]


# --- parsing (pure) ------------------------------------------------------------------
def _ts(ms: Sequence[int]) -> pl.Series:
    return pl.Series(TS, [int(t) * 1000 for t in ms], dtype=pl.Int64).cast(
        CANDLES.columns[TS]
    )


def _floats(values: Sequence[Any]) -> list[float | None]:
    return [None if v in ("", None) else float(v) for v in values]


def parse_klines(rows: Sequence[Sequence[Any]]) -> pl.DataFrame:
    """Binance kline arrays to schema CANDLES (all 10 columns filled).

    Parameters
    ----------
    rows : sequence of sequence
        ``[open_ms, "open", "high", "low", "close", "volume", close_ms,
        "quote_volume", trades, "taker_buy_base", "taker_buy_quote", "0"]``;
        decimals may be strings or numbers.

    Returns
    -------
    pl.DataFrame
        Schema CANDLES, ``ts`` the bar's open time.
    """
    cols = list(zip(*rows, strict=True)) if rows else [()] * 12
    frame = pl.DataFrame(
        {
            TS: _ts(cols[0]),
            **{
                name: _floats(cols[i])
                for i, name in ((1, OPEN), (2, HIGH), (3, LOW), (4, CLOSE), (5, VOLUME))
            },
            QUOTE_VOLUME: _floats(cols[7]),
            TRADES: [int(v) for v in cols[8]],
            TAKER_BUY_BASE: _floats(cols[9]),
            TAKER_BUY_QUOTE: _floats(cols[10]),
        },
        schema=dict(CANDLES.columns),
    )
    return validate(frame, CANDLES)


def funding_interval_hours(spacing_ms: int) -> int:
    """Settlement interval, in hours, of two settlements ``spacing_ms`` apart.

    The nearest of 1, 2, 4 and 8 hours on a log scale (a tie goes to the
    longer); longer spacings (a missed settlement) count as 8.

    Examples
    --------
    >>> funding_interval_hours(8 * 3_600_000 + 7)
    8
    >>> funding_interval_hours(4 * 3_600_000 - 3)
    4
    """
    hours = max(spacing_ms, 1) / _HOUR_MS
    ratios = [max(hours / h, h / hours) for h in _FUNDING_HOURS]
    best = min(ratios)
    return max(h for h, r in zip(_FUNDING_HOURS, ratios, strict=True) if r == best)


def label_intervals(
    times_ms: Sequence[int], *, previous_ms: int | None, fallback: Callable[[], int]
) -> list[int]:
    """Interval hours of each settlement in ``times_ms`` (sorted).

    Each row takes its spacing to the previous settlement (``previous_ms`` for
    the first row); a row without one takes the spacing to the next, and a
    lone row takes ``fallback()``.
    """
    out: list[int] = []
    previous = previous_ms
    for i, t in enumerate(times_ms):
        if previous is not None:
            out.append(funding_interval_hours(t - previous))
        elif i + 1 < len(times_ms):
            out.append(funding_interval_hours(times_ms[i + 1] - t))
        else:
            out.append(fallback())
        previous = t
    return out


def parse_funding(rows: Sequence[Row], interval_hours: Sequence[int]) -> pl.DataFrame:
    """Binance funding rows to schema FUNDING.

    ``fundingRate`` is already a decimal per settlement (``"0.00010000"`` is
    1e-4, i.e. 0.01 %); ``fundingTime`` is truncated to the second.
    """
    none = [None] * len(rows)
    frame = pl.DataFrame(
        {
            TS: _ts([int(r["fundingTime"]) // 1000 * 1000 for r in rows]),
            RATE: _floats([r["fundingRate"] for r in rows]),
            INTERVAL_HOURS: list(interval_hours),
            **{column: none for column in (RATE_OPEN, RATE_HIGH, RATE_LOW)},
        },
        schema=dict(FUNDING.columns),
    )
    return validate(frame, FUNDING)


def parse_open_interest(rows: Sequence[Row]) -> pl.DataFrame:
    """Binance ``openInterestHist`` rows to schema OPEN_INTEREST (base and USD)."""
    n = len(rows)
    frame = pl.DataFrame(
        {
            TS: _ts([int(r["timestamp"]) for r in rows]),
            OI_BASE: _floats([r["sumOpenInterest"] for r in rows]),
            OI_USD: _floats([r["sumOpenInterestValue"] for r in rows]),
            OI_BASE_DERIVED: [False] * n,
            OI_USD_DERIVED: [False] * n,
        },
        schema=dict(OPEN_INTEREST.columns),
    )
    return validate(frame, OPEN_INTEREST)


# --- payload checks (a failing check is retried as a malformed payload) -------------
def _rows_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda payload: isinstance(payload, list) and all(map(check, payload))


_KLINES_OK = _rows_of(lambda r: isinstance(r, list) and len(r) >= 11)
_FUNDING_OK = _rows_of(
    lambda r: isinstance(r, dict) and "fundingTime" in r and "fundingRate" in r
)
_OI_OK = _rows_of(
    lambda r: (
        isinstance(r, dict)
        and {"timestamp", "sumOpenInterest", "sumOpenInterestValue"} <= r.keys()
    )
)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _ceil(ms: int, step: int) -> int:
    return -(-ms // step) * step


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _FundingCursor:
    """What the funding pager knows of the rows already handed out."""

    previous_ms: int | None = None
    hours: int | None = None

    def gap_before(self, rows: Sequence[Row], cursor: int) -> bool:
        """Whether ``rows`` start more than 1.5 intervals after the last settlement.

        Before the first row is known the interval is taken as 8 hours.
        """
        reference = cursor if self.previous_ms is None else self.previous_ms
        limit = 1.5 * (self.hours or _DEFAULT_FUNDING_HOURS) * _HOUR_MS + _MINUTE_MS
        return _first_time(rows) - reference > limit


class BinanceSource:
    """Binance spot and USDⓈ-M perpetuals through one ccxt ``binance`` client.

    Parameters
    ----------
    exchange : ccxt.binance
        A client loading spot and linear markets
        (``make_exchange("binance")``).
    policy : RetryPolicy, optional
        Retry policy of every call.
    clock : callable, optional
        Current time (timezone-aware); decides which bars are closed and the
        open-interest window. Defaults to the system clock.
    """

    venue = VENUE

    def __init__(
        self,
        exchange: Any,
        *,
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.exchange = exchange
        self.policy = policy or RetryPolicy()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._funding_info: dict[str, int] | None = None

    # --- Source protocol -------------------------------------------------------------
    def series(self, asset: str) -> list[SeriesKey]:
        """Spot and perp 1d candles, perp funding and perp 1d OI of ``asset``/USDT."""
        spot, perp = f"{asset.upper()}/USDT", f"{asset.upper()}/USDT:USDT"
        return [
            SeriesKey(VENUE, spot, SeriesKind.OHLCV, "1d"),
            SeriesKey(VENUE, perp, SeriesKind.OHLCV, "1d"),
            SeriesKey(VENUE, perp, SeriesKind.FUNDING, "settle"),
            SeriesKey(VENUE, perp, SeriesKind.OPEN_INTEREST, "1d"),
        ]

    def earliest(self, key: SeriesKey, now: datetime) -> datetime | None:
        """``now - 30 days`` for open interest; None (since listing) otherwise."""
        return now - OI_HISTORY if key.kind == SeriesKind.OPEN_INTEREST else None

    def fetch(
        self, key: SeriesKey, start: datetime, end: datetime
    ) -> Iterator[pl.DataFrame]:
        """Rows of ``key`` with ``start <= ts < end``, oldest first, one page a chunk.

        The key is checked at once; the venue is asked lazily, as chunks are
        consumed, so a caller can store each chunk and resume from the last.

        Raises
        ------
        ConfigError
            A naive datetime, or a key of another venue.
        UnsupportedSymbolError
            A kind, market type or timeframe Binance does not serve here, or a
            market Binance does not list (raised on iteration).
        SourceError
            The venue failed after retries (raised on iteration).
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ConfigError(
                f"start {start} and end {end} must carry a time zone (e.g. UTC)"
            )
        if key.venue != VENUE:
            raise ConfigError(f"{key} is not a Binance series; use venue 'binance'")
        kind = parse_market(key.market).market_type
        if key.kind == SeriesKind.OHLCV and kind in ("spot", "perp"):
            step = self._timeframe_ms(key, _TIMEFRAME_MS)
            return self._klines(key.market, kind, key.timeframe, step, start, end)
        if key.kind == SeriesKind.FUNDING and kind == "perp":
            return self._funding(key.market, start, end)
        if key.kind == SeriesKind.OPEN_INTEREST and kind == "perp":
            step = self._timeframe_ms(key, {p: _TIMEFRAME_MS[p] for p in _OI_PERIODS})
            return self._open_interest(key.market, key.timeframe, step, start, end)
        raise UnsupportedSymbolError(
            f"binance adapter has no {key.kind.value} series for {key.market!r}; it "
            "serves ohlcv (spot 'BTC/USDT' or perp 'BTC/USDT:USDT'), and funding and "
            "open_interest of perps"
        )

    # --- plumbing --------------------------------------------------------------------
    @staticmethod
    def _timeframe_ms(key: SeriesKey, allowed: dict[str, int]) -> int:
        if key.timeframe not in allowed:
            raise UnsupportedSymbolError(
                f"binance serves {key.kind.value} at {', '.join(allowed)}, not "
                f"{key.timeframe!r}; pick one of those"
            )
        return allowed[key.timeframe]

    def _get(
        self,
        method: str,
        params: dict[str, Any],
        *,
        what: str,
        check: Callable[[Any], bool],
    ) -> list[Any]:
        """Call ccxt's implicit ``method`` with retries; the payload is a list."""
        func = getattr(self.exchange, method)
        return list(
            call_with_retries(
                self.exchange,
                func,
                params,
                what=what,
                policy=self.policy,
                validate=check,
            )
        )

    def _market_id(self, symbol: str, kind: str) -> str:
        """Binance's id of ``symbol`` (``BTCUSDT``), after loading the markets."""
        call_with_retries(
            self.exchange,
            self.exchange.load_markets,
            what="binance market list",
            policy=self.policy,
        )
        market = (self.exchange.markets or {}).get(symbol)
        wanted = "spot" if kind == "spot" else "swap"
        if market is None or market.get("type") != wanted:
            raise UnsupportedSymbolError(
                f"binance does not list the {kind} market {symbol!r}; check the "
                "symbol (spot 'BTC/USDT', perp 'BTC/USDT:USDT') or drop it from the "
                "fetch config"
            )
        return str(market["id"])

    def _now_ms(self) -> int:
        now = self._clock()
        if now.tzinfo is None:
            raise ConfigError(f"the clock returned a naive datetime {now}")
        return _ms(now)

    # --- klines ----------------------------------------------------------------------
    def _klines(
        self,
        symbol: str,
        kind: str,
        timeframe: str,
        step: int,
        start: datetime,
        end: datetime,
    ) -> Iterator[pl.DataFrame]:
        symbol_id = self._market_id(symbol, kind)
        method = "publicGetKlines" if kind == "spot" else "fapiPublicGetKlines"
        last_closed = self._now_ms() - step  # open time of the newest closed bar
        start_ms, stop_ms = _ceil(_ms(start), step), min(_ms(end), last_closed + 1)

        def page(cursor: int) -> list[list[Any]]:
            params = {
                "symbol": symbol_id,
                "interval": timeframe,
                "startTime": cursor,
                "endTime": stop_ms - 1,
                "limit": _KLINE_LIMIT[kind],
            }
            what = f"binance {symbol} {timeframe} klines from {_iso(cursor)}"
            return self._get(method, params, what=what, check=_KLINES_OK)

        pages = paginate_by_time(
            page,
            start_ms,
            stop_ms,
            ts_of=lambda r: int(r[0]),
            step_ms=step,
            contiguous=True,
        )
        yield from map(parse_klines, pages)

    # --- funding ---------------------------------------------------------------------
    def _funding(
        self, symbol: str, start: datetime, end: datetime
    ) -> Iterator[pl.DataFrame]:
        symbol_id = self._market_id(symbol, "perp")
        stop_ms = _ceil(_ms(end), 1000)  # times jitter by a few ms past the second
        state = _FundingCursor()

        def page(cursor: int) -> list[Row]:
            params = {
                "symbol": symbol_id,
                "startTime": cursor,
                "endTime": stop_ms - 1,
                "limit": _FUNDING_LIMIT,
            }
            what = f"binance {symbol} funding from {_iso(cursor)}"
            rows = self._get(
                "fapiPublicGetFundingRate", params, what=what, check=_FUNDING_OK
            )
            for _ in range(2):  # a page starting after a missing settlement: ask again
                if not rows or not state.gap_before(rows, cursor):
                    break
                log.info("%s: the page starts after a gap; asking again", what)
                again = self._get(
                    "fapiPublicGetFundingRate", params, what=what, check=_FUNDING_OK
                )
                rows = (
                    again if again and _first_time(again) < _first_time(rows) else rows
                )
            return rows

        for rows in paginate_by_time(
            page,
            _ms(start) - _FUNDING_LOOKBACK_MS,
            stop_ms,
            ts_of=lambda r: int(r["fundingTime"]),
            step_ms=1,
        ):
            times = [int(r["fundingTime"]) for r in rows]
            hours = label_intervals(
                times,
                previous_ms=state.previous_ms,
                fallback=lambda: self._listed_interval(symbol_id),
            )
            state.previous_ms, state.hours = times[-1], hours[-1]
            frame = parse_funding(rows, hours)
            frame = frame.filter(pl.col(TS).is_between(start, end, closed="left"))
            if frame.height:
                yield frame

    def _listed_interval(self, symbol_id: str) -> int:
        """``fundingIntervalHours`` from ``/fapi/v1/fundingInfo``, else 8."""
        if self._funding_info is None:
            payload = self._get(
                "fapiPublicGetFundingInfo",
                {},
                what="binance funding info",
                check=_rows_of(lambda r: isinstance(r, dict) and "symbol" in r),
            )
            self._funding_info = {
                str(r["symbol"]): int(r["fundingIntervalHours"])
                for r in payload
                if r.get("fundingIntervalHours") is not None
            }
        return self._funding_info.get(symbol_id, _DEFAULT_FUNDING_HOURS)

    # --- open interest ---------------------------------------------------------------
    def _open_interest(
        self, symbol: str, period: str, step: int, start: datetime, end: datetime
    ) -> Iterator[pl.DataFrame]:
        symbol_id = self._market_id(symbol, "perp")
        now_ms = self._now_ms()
        oldest = now_ms - int((OI_HISTORY - _OI_SKEW).total_seconds() * 1000)
        start_ms = _ceil(max(_ms(start), oldest), step)
        stop_ms = min(_ms(end), now_ms + 1)
        span = (_OI_LIMIT - 1) * step  # a window of at most _OI_LIMIT rows
        empty_until = [start_ms]  # windows before this one answered nothing

        def page(cursor: int) -> list[Row]:
            window = max(cursor, empty_until[0])
            while window < stop_ms:  # walk over empty windows (before listing)
                params = {
                    "symbol": symbol_id,
                    "period": period,
                    "startTime": window,
                    "endTime": min(window + span, stop_ms - 1),
                    "limit": _OI_LIMIT,
                }
                what = f"binance {symbol} {period} open interest from {_iso(window)}"
                rows = self._get(
                    "fapiDataGetOpenInterestHist", params, what=what, check=_OI_OK
                )
                if rows:
                    return rows
                window = empty_until[0] = window + span + step
            return []

        pages = paginate_by_time(
            page,
            start_ms,
            stop_ms,
            ts_of=lambda r: int(r["timestamp"]),
            step_ms=step,
            contiguous=True,
        )
        yield from map(parse_open_interest, pages)


def _first_time(rows: Sequence[Row]) -> int:
    return min(int(r["fundingTime"]) for r in rows)
