"""Deribit live adapter: option chain snapshots and DVOL history.

Two public (keyless) endpoints, both answering Deribit's JSON-RPC envelope
``{"jsonrpc": "2.0", "result": ..., "usIn": .., "usOut": .., "usDiff": ..,
"testnet": false}`` (``usIn``/``usOut``: the venue's clock in microseconds):

``/api/v2/public/get_book_summary_by_currency?currency=BTC&kind=option``
    The whole option chain of one currency in one call (no paging), one row
    per live instrument::

        {"instrument_name": "BTC-27DEC24-60000-C", "open_interest": 310.5,
         "mark_iv": 55.12, "mark_price": 0.0421, "underlying_price": 96120.4,
         "underlying_index": "BTC-27DEC24", "estimated_delivery_price": 95980.1,
         "bid_price": 0.041, "ask_price": 0.0435, "volume": 12.3,
         "creation_timestamp": 1732698123401, ...}

    It becomes one OPTIONS_CHAIN snapshot (timeframe ``snapshot``) stamped
    with ``usOut`` floored to the second. The fields map as in the
    ``deribit-book-summary`` file preset: expiry (08:00 UTC), strike and
    call/put from the name; open interest in coins; ``mark_iv`` percent to
    decimal; ``mark_price`` in coin per option (the schema has no USD price);
    ``underlying_price`` the expiry's forward; ``estimated_delivery_price`` as
    ``index_price``; ``creation_timestamp`` as ``quote_ts``. **Greeks and
    bid/ask IV are null**: the book summary has none, and ``public/ticker``
    would cost one call per instrument. The venue keeps no chain history, so
    only the current chain can be fetched. A row lost in transit cannot be
    told from a delisted instrument (``public/get_instruments`` would tell,
    but it allows one request per 10 s), so it is not checked.

``/api/v2/public/get_volatility_index_data?currency=BTC&resolution=1D&...``
    With ``start_timestamp`` and ``end_timestamp`` (ms): DVOL candles
    ``[[ts_ms, open, high, low, close], ...]`` in index points (percent),
    oldest first, both timestamps inclusive, at most 1000 per answer: the
    newest of the range, with ``continuation`` (to send as the next
    ``end_timestamp``) when older ones remain::

        {"data": [[1732579200000, 54.07, 55.9, 53.2, 55.01], ...],
         "continuation": null}

    It becomes VOL_INDEX (index points x 0.01, as the ``deribit-dvol``
    preset does) for timeframes ``1m``, ``1h``, ``12h`` and ``1d``
    (resolutions ``60``, ``3600``, ``43200``, ``1D``). History starts with
    DVOL's launch (:data:`DVOL_START`, taken for every resolution).

Paging: DVOL is walked forward in windows of 1000 bars (one answer each),
so chunks arrive oldest first and can be stored as they come; inside a
window a ``continuation`` is followed backwards. Rows are deduplicated by
timestamp; a window with missing bars (or an empty one after windows with
candles) is asked again, twice, before the gap is accepted as the venue's; a
continuation that does not move back is an error; the bar still in progress
at the venue's ``usOut`` is dropped (only closed bars are returned).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ConfigError, SourceError, UnsupportedSymbolError
from rallylens.schemas import (
    CLOSE,
    EXPIRY,
    HIGH,
    INDEX_PRICE,
    INSTRUMENT,
    LOW,
    MARK_IV,
    MARK_PRICE,
    OPEN,
    OPTION_OI,
    OPTION_TYPE,
    OPTIONS_CHAIN,
    QUOTE_TS,
    STRIKE,
    TS,
    TS_DTYPE,
    UNDERLYING_PRICE,
    VOL_INDEX,
    SeriesKey,
    parse_market,
    validate,
)
from rallylens.sources._ccxt import RetryPolicy, call_with_retries
from rallylens.sources.deribit import _INSTRUMENT_RE, _PERCENT, _expiry_from_codes

__all__ = [
    "CURRENCIES",
    "DVOL_START",
    "PAGE_ROWS",
    "SNAPSHOT_GRACE",
    "DeribitSource",
    "chain_frame",
    "is_book_summary",
    "is_volatility_page",
    "snapshot_time",
    "volatility_frame",
]

log = logging.getLogger(__name__)

_VENUE = "deribit"
CURRENCIES = ("BTC", "ETH")
"""Currencies with inverse options and a DVOL index on Deribit."""
DVOL_START = datetime(2021, 3, 24, tzinfo=UTC)
"""DVOL's launch: the oldest candle Deribit serves."""
PAGE_ROWS = 1000
"""Most candles one ``get_volatility_index_data`` answer holds."""
SNAPSHOT_GRACE = timedelta(hours=1)
"""How far before the clock a range may end and still ask for the current chain.

A sync computes its ``end`` (= now) once and may then spend minutes on other
series; the chain it finally gets is the present one, stamped by the venue.
"""
_RESOLUTIONS: dict[str, tuple[str, int]] = {  # timeframe: (resolution, ms)
    "1m": ("60", 60_000),
    "1h": ("3600", 3_600_000),
    "12h": ("43200", 43_200_000),
    "1d": ("1D", 86_400_000),
}
_REASKS = 2
_MAX_PAGES_PER_WINDOW = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_F64 = pl.Float64()
_US = timedelta(microseconds=1)
_CURRENCY_PARAM = re.compile(r'"param"\s*:\s*"currency"')
_SUMMARY_NUMBERS = (
    "open_interest",
    "mark_iv",
    "mark_price",
    "underlying_price",
    "estimated_delivery_price",
    "creation_timestamp",
)
_CHAIN_FLOATS = {  # canonical column: (book summary field, scale)
    OPTION_OI: ("open_interest", 1.0),
    MARK_IV: ("mark_iv", _PERCENT),
    MARK_PRICE: ("mark_price", 1.0),
    UNDERLYING_PRICE: ("underlying_price", 1.0),
    INDEX_PRICE: ("estimated_delivery_price", 1.0),
}


# --- payload checks (retried as malformed when they fail) -------------------
def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _micros(value: object) -> int | None:
    """``usOut`` as an int (Deribit sends a number; older answers a string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _envelope(payload: object) -> Mapping[str, Any] | None:
    if not isinstance(payload, Mapping) or _micros(payload.get("usOut")) is None:
        return None
    return payload


def is_book_summary(payload: object) -> bool:
    """Whether ``payload`` is a book summary envelope with usable rows."""
    envelope = _envelope(payload)
    rows = envelope.get("result") if envelope is not None else None
    if not isinstance(rows, list):
        return False
    return all(
        isinstance(row, Mapping)
        and isinstance(row.get("instrument_name"), str)
        and all(row.get(f) is None or _is_number(row.get(f)) for f in _SUMMARY_NUMBERS)
        for row in rows
    )


def _is_candle(row: object) -> bool:
    return (
        isinstance(row, list | tuple)
        and len(row) >= 5
        and isinstance(row[0], int)
        and not isinstance(row[0], bool)
        and _is_number(row[4])
        and all(v is None or _is_number(v) for v in row[1:4])
    )


def is_volatility_page(payload: object) -> bool:
    """Whether ``payload`` is a ``get_volatility_index_data`` envelope."""
    envelope = _envelope(payload)
    result = envelope.get("result") if envelope is not None else None
    if not isinstance(result, Mapping) or not isinstance(result.get("data"), list):
        return False
    cont = result.get("continuation")
    return (cont is None or _micros(cont) is not None) and all(
        _is_candle(row) for row in result["data"]
    )


# --- conversions ---------------------------------------------------------------
def snapshot_time(payload: Mapping[str, Any]) -> datetime:
    """The snapshot time of an answer: ``usOut`` floored to the second.

    Examples
    --------
    >>> snapshot_time({"usOut": 1732698123456789})
    datetime.datetime(2024, 11, 27, 9, 2, 3, tzinfo=datetime.timezone.utc)
    """
    micros = _micros(payload.get("usOut"))
    if micros is None:
        raise SourceError(f"deribit answer without usOut: {dict(payload)!r:.200}")
    return _EPOCH + timedelta(seconds=micros // 1_000_000)


def _floats(rows: list[Mapping[str, Any]], field: str, scale: float) -> pl.Series:
    values = pl.Series(
        [None if r.get(field) is None else float(r[field]) for r in rows],
        dtype=_F64,
    )
    return values * scale if scale != 1.0 else values


def _from_epoch_ms(values: pl.Series) -> pl.Series:
    as_ms = values.cast(pl.Int64).cast(pl.Datetime("ms"))
    return as_ms.dt.replace_time_zone("UTC").dt.cast_time_unit("us")


def _name_columns(names: pl.Series) -> pl.DataFrame:
    """Currency, expiry (08:00 UTC), strike, call/put from ``BTC-27DEC24-60000-C``.

    Names that are not inverse options (``BTC_USDC-...``, combos) get nulls.
    """
    parts = names.str.extract_groups(_INSTRUMENT_RE).struct.unnest()
    kinds = {"C": "call", "P": "put"}
    return pl.DataFrame(
        {
            INSTRUMENT: names,
            EXPIRY: _expiry_from_codes(parts["code"]),
            STRIKE: parts["strike"].str.replace("d", ".", literal=True).cast(_F64),
            OPTION_TYPE: parts["kind"].replace_strict(kinds, default=None),
            "_currency": parts["currency"],
        }
    )


def chain_frame(payload: Mapping[str, Any], currency: str) -> pl.DataFrame:
    """One book summary answer as an OPTIONS_CHAIN snapshot (see module notes).

    Rows that are not inverse options of ``currency`` (a USDC-settled name, a
    combo) and options already expired at the snapshot time are dropped and
    logged; duplicate instruments keep their first row.

    Returns
    -------
    pl.DataFrame
        Schema OPTIONS_CHAIN, sorted by instrument; greeks and bid/ask IV null.
    """
    ts = snapshot_time(payload)
    rows: list[Mapping[str, Any]] = list(payload["result"])
    names = pl.Series(INSTRUMENT, [r["instrument_name"] for r in rows], pl.String)
    frame = _name_columns(names).with_columns(
        pl.lit(ts, TS_DTYPE).alias(TS),
        *(_floats(rows, f, s).alias(c) for c, (f, s) in _CHAIN_FLOATS.items()),
        _from_epoch_ms(_floats(rows, "creation_timestamp", 1.0)).alias(QUOTE_TS),
    )
    keep = ((pl.col("_currency") == currency) & (pl.col(EXPIRY) > ts)).fill_null(False)
    dropped = frame.filter(~keep)
    if dropped.height:
        log.warning(
            "deribit %s book summary: dropped %d rows that are not live inverse "
            "%s options at %s, e.g. %s",
            currency,
            dropped.height,
            currency,
            ts,
            dropped[INSTRUMENT][0],
        )
    absent = [c for c in OPTIONS_CHAIN.columns if c not in frame.columns]
    frame = (
        frame.filter(keep)
        .unique(INSTRUMENT, keep="first", maintain_order=True)
        .with_columns(
            pl.col(UNDERLYING_PRICE).fill_null(pl.col(INDEX_PRICE)),
            *(pl.lit(None, OPTIONS_CHAIN.columns[c]).alias(c) for c in absent),
        )
        .drop("_currency")
    )
    return validate(frame.sort(INSTRUMENT), OPTIONS_CHAIN)


def volatility_frame(candles: list[list[Any]]) -> pl.DataFrame:
    """DVOL candles ``[ts_ms, open, high, low, close]`` as VOL_INDEX decimals.

    Examples
    --------
    >>> volatility_frame([[1732579200000, 54.0, 56.0, 53.0, 55.0]])[CLOSE][0]
    0.55
    """

    def column(i: int) -> pl.Series:
        values = [None if c[i] is None else float(c[i]) for c in candles]
        return pl.Series(values, dtype=_F64) * _PERCENT

    stamps = pl.Series([int(c[0]) for c in candles], dtype=pl.Int64)
    frame = pl.DataFrame(
        {
            TS: _from_epoch_ms(stamps),
            OPEN: column(1),
            HIGH: column(2),
            LOW: column(3),
            CLOSE: column(4),
        }
    )
    return validate(frame, VOL_INDEX)


def _ceil_ms(when: datetime) -> int:
    """Milliseconds since the epoch, rounded up (``ts_ms >= when``)."""
    micros = (when - _EPOCH) // _US
    return -(-micros // 1000)


def _iso(stamp_ms: int) -> str:
    return f"{_EPOCH + timedelta(milliseconds=stamp_ms):%Y-%m-%d %H:%M}"


def _missing_bars(stamps: list[int], first: int, stop: int, step: int) -> int:
    """Bars of the grid ``first, first + step, ... < stop`` not in ``stamps``."""
    expected = max(0, -(-(stop - first) // step))
    return expected - len({t for t in stamps if first <= t < stop})


class DeribitSource:
    """Deribit option chains (snapshots) and DVOL history from the public API.

    Parameters
    ----------
    exchange : ccxt.deribit
        The network client (``make_exchange("deribit", ...)``).
    policy : RetryPolicy, optional
        Retries of every call.
    clock : callable, optional
        Returns the current UTC time; decides whether a snapshot fetch reaches
        the present (tests pass the emulator's clock).

    Notes
    -----
    Series keys: ``deribit:BTC/USD:BTC:options_chain:snapshot`` and
    ``deribit:BTC:vol_index:1d`` (also ``1m``, ``1h``, ``12h``), likewise ETH.
    """

    venue = _VENUE

    def __init__(
        self,
        exchange: Any,
        *,
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._exchange = exchange
        self._policy = policy
        self._clock = clock or (lambda: datetime.now(UTC))

    def series(self, asset: str) -> list[SeriesKey]:
        """DVOL 1d and the option chain snapshot of BTC or ETH (else none)."""
        if asset not in CURRENCIES:
            return []
        return [
            SeriesKey(_VENUE, asset, SeriesKind.VOL_INDEX, "1d"),
            SeriesKey(
                _VENUE, f"{asset}/USD:{asset}", SeriesKind.OPTIONS_CHAIN, "snapshot"
            ),
        ]

    def earliest(self, key: SeriesKey, now: datetime) -> datetime | None:
        """DVOL's launch for DVOL; None for chains (no history, only the present)."""
        self._currency(key)
        return DVOL_START if key.kind == SeriesKind.VOL_INDEX else None

    def fetch(
        self, key: SeriesKey, start: datetime, end: datetime
    ) -> Iterator[pl.DataFrame]:
        """Rows of ``key`` from ``start`` to ``end``, oldest first, in chunks.

        A chain key yields the current chain (one chunk) when the clock is at
        or after ``start`` and before ``end + SNAPSHOT_GRACE``, else nothing;
        its ``ts`` is the venue's time, so it may lie a little past ``end``.
        DVOL yields one chunk per 1000 closed bars with ``start <= ts < end``.

        Raises
        ------
        UnsupportedSymbolError
            Deribit does not list the currency, or the market is not of the
            form ``BTC/USD:BTC`` (chains) or ``BTC`` (DVOL).
        ConfigError
            The kind or timeframe is not served by this adapter.
        SourceError
            The venue failed after retries, or its paging does not advance.
        """
        currency = self._currency(key)
        if key.kind == SeriesKind.OPTIONS_CHAIN:
            yield from self._fetch_chain(currency, start, end)
        else:
            yield from self._fetch_volatility(currency, key.timeframe, start, end)

    # --- keys and calls ------------------------------------------------------
    def _currency(self, key: SeriesKey) -> str:
        market = parse_market(key.market)
        base = market.base
        if key.kind == SeriesKind.OPTIONS_CHAIN:
            if key.timeframe != "snapshot":
                raise ConfigError(
                    f"{key}: Deribit option chains are snapshots; use timeframe "
                    "'snapshot'"
                )
            if key.market != f"{base}/USD:{base}":
                raise UnsupportedSymbolError(
                    f"{key}: Deribit lists inverse option chains as "
                    f"'{base}/USD:{base}' (e.g. BTC/USD:BTC); fix the market"
                )
        elif key.kind == SeriesKind.VOL_INDEX:
            if key.timeframe not in _RESOLUTIONS:
                raise ConfigError(
                    f"{key}: DVOL comes in timeframes {', '.join(_RESOLUTIONS)}; "
                    f"not {key.timeframe!r}"
                )
            if market.market_type != "index":
                raise UnsupportedSymbolError(
                    f"{key}: DVOL is keyed by the bare currency (e.g. market "
                    f"'{base}'); fix the market"
                )
        else:
            raise ConfigError(
                f"{key}: the Deribit adapter serves options_chain:snapshot and "
                "vol_index; fetch other kinds from binance, bybit or okx"
            )
        return base

    def _request(
        self,
        method: str,
        params: dict[str, Any],
        *,
        what: str,
        validate: Callable[[Any], bool],
    ) -> Mapping[str, Any]:
        """One public call with retries; an unknown currency is unsupported."""
        import ccxt  # heavy: imported only when a venue is used

        func = getattr(self._exchange, method)

        def call() -> Any:
            try:
                return func(dict(params))
            except ccxt.BadRequest as exc:
                if _CURRENCY_PARAM.search(str(exc)):
                    raise ccxt.BadSymbol(
                        f"no currency {params.get('currency')!r}: {exc}"
                    ) from exc
                raise

        result: Mapping[str, Any] = call_with_retries(
            self._exchange, call, what=what, policy=self._policy, validate=validate
        )
        return result

    # --- option chains ---------------------------------------------------------
    def _fetch_chain(
        self, currency: str, start: datetime, end: datetime
    ) -> Iterator[pl.DataFrame]:
        now = self._clock()
        if not start <= now < end + SNAPSHOT_GRACE:
            log.info(
                "deribit %s chain: %s..%s does not reach the present; Deribit "
                "keeps no chain history",
                currency,
                start,
                end,
            )
            return
        payload = self._request(
            "publicGetGetBookSummaryByCurrency",
            {"currency": currency, "kind": "option"},
            what=f"deribit {currency} option chain (get_book_summary_by_currency)",
            validate=is_book_summary,
        )
        frame = chain_frame(payload, currency).filter(pl.col(TS) >= start)
        if frame.height:
            yield frame

    # --- DVOL ------------------------------------------------------------------
    def _fetch_volatility(
        self, currency: str, timeframe: str, start: datetime, end: datetime
    ) -> Iterator[pl.DataFrame]:
        resolution, step = _RESOLUTIONS[timeframe]
        first = max(_ceil_ms(start), _ceil_ms(DVOL_START))
        cursor, end_ms = -(-first // step) * step, _ceil_ms(end)
        seen = False
        while cursor < end_ms:
            stop = min(end_ms, cursor + PAGE_ROWS * step)
            candles, venue_ms = self._volatility_window(
                currency, resolution, step, (cursor, stop), expect_data=seen
            )
            seen = seen or bool(candles)
            closed = [c for c in candles if c[0] + step <= venue_ms]
            if closed:
                yield volatility_frame(closed)
            if stop + step > venue_ms:  # the next window holds no closed bar
                return
            cursor = stop

    def _volatility_window(
        self,
        currency: str,
        resolution: str,
        step: int,
        window: tuple[int, int],
        *,
        expect_data: bool,
    ) -> tuple[list[list[Any]], int]:
        """Candles with ``first <= ts < stop``, asked again while bars are missing.

        An empty window is asked again only when ``expect_data`` (an earlier
        window had candles): before the history starts, emptiness is real. A
        window where the history starts looks like one that lost its oldest
        candles, so it is asked again (once per fetch, harmless).
        Returns the candles sorted and deduplicated, and the venue's time (ms,
        the earliest ``usOut`` of the answers used).
        """
        first, stop = window
        got: dict[int, list[Any]] = {}
        venue_ms: int | None = None
        for attempt in range(1 + _REASKS):
            rows, answered_ms = self._volatility_pages(
                currency, resolution, first, stop
            )
            for ts, row in rows.items():
                got.setdefault(ts, row)
            venue_ms = answered_ms if venue_ms is None else min(venue_ms, answered_ms)
            last_closed = min(stop, venue_ms - step + 1)
            missing = _missing_bars(list(got), first, last_closed, step)
            if missing <= 0 or not (got or expect_data):
                break
            log.info(
                "deribit %s DVOL %s: %d bars missing from %d (answer %d); asking again",
                currency,
                resolution,
                missing,
                first,
                attempt + 1,
            )
        assert venue_ms is not None
        return [got[ts] for ts in sorted(got)], venue_ms

    def _volatility_pages(
        self, currency: str, resolution: str, first: int, stop: int
    ) -> tuple[dict[int, list[Any]], int]:
        """Walk one window backwards along ``continuation`` (see module notes)."""
        got: dict[int, list[Any]] = {}
        last, venue_ms = stop - 1, None
        what = (
            f"deribit {currency} DVOL (resolution {resolution}) "
            f"{_iso(first)}..{_iso(stop)}"
        )
        for _ in range(_MAX_PAGES_PER_WINDOW):
            payload = self._request(
                "publicGetGetVolatilityIndexData",
                {
                    "currency": currency,
                    "start_timestamp": first,
                    "end_timestamp": last,
                    "resolution": resolution,
                },
                what=what,
                validate=is_volatility_page,
            )
            answered = (_micros(payload["usOut"]) or 0) // 1000
            venue_ms = answered if venue_ms is None else min(venue_ms, answered)
            for row in payload["result"]["data"]:
                if first <= row[0] < stop:
                    got.setdefault(int(row[0]), list(row[:5]))
            cont = _micros(payload["result"].get("continuation"))
            if cont is None or cont < first or (cont == first and first in got):
                return got, venue_ms
            if cont >= last:
                raise SourceError(
                    f"{what}: the venue's continuation {cont} does not move back "
                    f"from end_timestamp {last}; it keeps answering the same range, "
                    "try again later or report it"
                )
            last = cont
        raise SourceError(
            f"{what}: no end after {_MAX_PAGES_PER_WINDOW} pages of one window; the "
            "venue keeps answering the same range"
        )
