"""``load_panel``: one time-aligned frame per asset for the stages downstream.

Precedence (first is preferred; "stitch" groups fill each bar from the first
candidate that has it, "single" groups use the one candidate covering most
bars of the window, ties broken by this order):

==============  =======  ====================================================
group           mode     candidates
==============  =======  ====================================================
spot            stitch   spot candles; venue binance, coinbase, okx, bybit,
                         others; quote USDT, USD, USDC, others
perp            stitch   perpetual candles; binance, bybit, okx; linear
                         (USDT-settled) before inverse
mark            stitch   perpetual mark-price candles, as for perp
funding         stitch   funding of the asset's perps; binance, all
                         (OI-weighted), bybit, okx, others
open_interest   single   all venues, binance, others; linear before inverse
liquidations    single   all venues, binance, others
spot_taker      single   spot taker volumes (``BTC/*`` aggregates or pairs)
perp_taker      single   derivative taker volumes (``BTC/*:*`` or perps)
dvol            stitch   deribit volatility index of the asset
basis, etf      single   metrics ``basis_usd``, ``etf_net_flow_usd``,
coinbase                 ``coinbase_premium_rate``
==============  =======  ====================================================

Within a venue, series at the panel's timeframe come first, then finer ones
(closest first), then coarser ones (only for level-type columns, placed at
the bar in which the coarse bar closes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from rallylens._typing import SeriesKind
from rallylens.exceptions import ConfigError, InsufficientDataError
from rallylens.schemas import (
    BASIS_USD,
    COINBASE_PREMIUM_RATE,
    DVOL,
    ETF_NET_FLOW_USD,
    FUNDING_APR,
    FUNDING_INTERVAL_HOURS,
    FUNDING_RATE,
    LIQ_LONG_USD,
    LIQ_SHORT_USD,
    MARK_CLOSE,
    METRIC,
    PANEL,
    PANEL_OI_BASE,
    PANEL_OI_USD,
    PERP_CLOSE,
    PERP_HIGH,
    PERP_LOW,
    PERP_OPEN,
    PERP_QUOTE_VOLUME,
    PERP_TAKER_BUY_QUOTE,
    PERP_TAKER_BUY_USD,
    PERP_TAKER_SELL_USD,
    PERP_VOLUME,
    SPOT_CLOSE,
    SPOT_HIGH,
    SPOT_LOW,
    SPOT_OPEN,
    SPOT_QUOTE_VOLUME,
    SPOT_TAKER_BUY_QUOTE,
    SPOT_TAKER_BUY_USD,
    SPOT_TAKER_SELL_USD,
    SPOT_VOLUME,
    TS,
    VALUE,
    SeriesKey,
    parse_market,
    timeframe_duration,
)
from rallylens.store._db import Store
from rallylens.store._panel import Candidate, GroupSpec, assemble_group, grid
from rallylens.store.read import list_series, read_series

__all__ = ["GROUPS", "Panel", "load_panel"]

_CANDLE = (
    ("open", "first"),
    ("high", "max"),
    ("low", "min"),
    ("close", "last"),
    ("volume", "sum"),
    ("quote_volume", "sum"),
    ("taker_buy_quote", "sum"),
)


def _candles(name: str, cols: tuple[str, ...]) -> GroupSpec:
    return GroupSpec(
        name,
        tuple((c, src, agg) for c, (src, agg) in zip(cols, _CANDLE, strict=True)),  # type: ignore[misc]
        "stitch",
        state=False,
    )


GROUPS: dict[str, GroupSpec] = {
    "spot": _candles(
        "spot",
        (
            SPOT_OPEN,
            SPOT_HIGH,
            SPOT_LOW,
            SPOT_CLOSE,
            SPOT_VOLUME,
            SPOT_QUOTE_VOLUME,
            SPOT_TAKER_BUY_QUOTE,
        ),
    ),
    "perp": _candles(
        "perp",
        (
            PERP_OPEN,
            PERP_HIGH,
            PERP_LOW,
            PERP_CLOSE,
            PERP_VOLUME,
            PERP_QUOTE_VOLUME,
            PERP_TAKER_BUY_QUOTE,
        ),
    ),
    "mark": GroupSpec("mark", ((MARK_CLOSE, "close", "last"),), "stitch", state=False),
    "funding": GroupSpec(
        "funding",
        (
            (FUNDING_RATE, "rate", "mean"),
            (FUNDING_INTERVAL_HOURS, "interval_hours", "last"),
        ),
        "stitch",
        state=True,
    ),
    "open_interest": GroupSpec(
        "open_interest",
        ((PANEL_OI_USD, "oi_usd", "last"), (PANEL_OI_BASE, "oi_base", "last")),
        "single",
        state=True,
    ),
    "liquidations": GroupSpec(
        "liquidations",
        ((LIQ_LONG_USD, "long_usd", "sum"), (LIQ_SHORT_USD, "short_usd", "sum")),
        "single",
        state=False,
    ),
    "spot_taker": GroupSpec(
        "spot_taker",
        (
            (SPOT_TAKER_BUY_USD, "buy_usd", "sum"),
            (SPOT_TAKER_SELL_USD, "sell_usd", "sum"),
        ),
        "single",
        state=False,
    ),
    "perp_taker": GroupSpec(
        "perp_taker",
        (
            (PERP_TAKER_BUY_USD, "buy_usd", "sum"),
            (PERP_TAKER_SELL_USD, "sell_usd", "sum"),
        ),
        "single",
        state=False,
    ),
    "dvol": GroupSpec("dvol", ((DVOL, "close", "last"),), "stitch", state=True),
    "basis": GroupSpec("basis", ((BASIS_USD, VALUE, "last"),), "single", state=True),
    "etf": GroupSpec("etf", ((ETF_NET_FLOW_USD, VALUE, "sum"),), "single", state=False),
    "coinbase": GroupSpec(
        "coinbase", ((COINBASE_PREMIUM_RATE, VALUE, "last"),), "single", state=True
    ),
}
"""Panel column groups, in the order they are filled."""

_Row = dict[str, object]
_VENUES = {
    "default": ("binance", "coinbase", "okx", "bybit", "all"),
    "funding": ("binance", "all", "bybit", "okx"),
    "open_interest": ("all", "binance", "bybit", "okx"),
    "liquidations": ("all", "binance", "bybit", "okx"),
}


def _wants(group: str) -> Callable[[_Row], bool]:
    def market_type(row: _Row) -> str:
        return str(row["market_type"])

    tests: dict[str, Callable[[_Row], bool]] = {
        "spot": lambda r: r["kind"] == "ohlcv" and market_type(r) == "spot",
        "perp": lambda r: r["kind"] == "ohlcv" and market_type(r) == "perp",
        "mark": lambda r: r["kind"] == "mark",
        "funding": lambda r: r["kind"] == "funding",
        "open_interest": lambda r: r["kind"] == "open_interest",
        "liquidations": lambda r: r["kind"] == "liquidations",
        "spot_taker": lambda r: (
            r["kind"] == "taker_volume"
            and (
                market_type(r) == "spot"
                or (market_type(r) == "aggregate" and ":" not in str(r["market"]))
            )
        ),
        "perp_taker": lambda r: (
            r["kind"] == "taker_volume"
            and (
                market_type(r) == "perp"
                or (market_type(r) == "aggregate" and ":" in str(r["market"]))
            )
        ),
        "dvol": lambda r: r["kind"] == "vol_index",
        "basis": lambda r: r["kind"] == "basis",
        "etf": lambda r: r["kind"] == "flows",
        "coinbase": lambda r: r["kind"] == "flows",
    }
    return tests[group]


_METRIC = {
    "basis": "basis_usd",
    "etf": "etf_net_flow_usd",
    "coinbase": "coinbase_premium_rate",
}


@dataclass(frozen=True)
class Panel:
    """The time-aligned frame of one asset and how it was built.

    Attributes
    ----------
    asset, timeframe : str
        What was asked for.
    frame : pl.DataFrame
        Schema :data:`rallylens.schemas.PANEL`; row ``ts`` holds what is known
        by the close of the bar opened at ``ts``.
    sources : dict[str, list[str]]
        Per column group, the series that supplied rows, in precedence order.
    missing : dict[str, str]
        Per column group with no data in the window, why.
    as_of : datetime or None
        No row closing after this time was used.
    """

    asset: str
    timeframe: str
    frame: pl.DataFrame
    sources: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    as_of: datetime | None = None


def load_panel(
    store: Store,
    asset: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    as_of: datetime | None = None,
) -> Panel:
    """One time-aligned Polars frame for ``asset`` with whatever series exist.

    Parameters
    ----------
    store : Store
        An open store.
    asset : str
        Base asset, e.g. ``BTC``.
    timeframe : str
        Panel bar length (``1h``, ``4h``, ``1d``).
    start, end : datetime, optional
        Bars opened in ``[start, end]``; default: the whole price history.
    as_of : datetime, optional
        Point-in-time guarantee: only bars closed by ``as_of`` are returned
        and only source rows known by then are read, so appending data after
        ``as_of`` never changes the result.

    Returns
    -------
    Panel
        The frame plus the series used per group and the groups missing.

    Raises
    ------
    InsufficientDataError
        If the store holds no spot or perp prices for the asset.
    """
    step = timeframe_duration(timeframe)
    if step is None:
        raise ConfigError(
            f"panel timeframe must be regular (1h, 4h, 1d), got {timeframe!r}"
        )
    asset = asset.upper()
    series = list_series(store, asset=asset)
    candidates = {g: _candidates(store, series, g, timeframe, as_of) for g in GROUPS}
    bounds = _bounds(asset, candidates, start, end, as_of, step)
    bars = grid(bounds[0], bounds[1], timeframe)
    out, sources, missing = bars, {}, {}
    for name, spec in GROUPS.items():
        filled, used = assemble_group(bars, spec, candidates[name], timeframe)
        out = out.with_columns(filled.drop(TS))
        if used:
            sources[name] = used
        else:
            missing[name] = _why_missing(name, candidates[name], bars)
    out = out.with_columns(
        (pl.col(FUNDING_RATE) * 24 * 365 / pl.col(FUNDING_INTERVAL_HOURS)).alias(
            FUNDING_APR
        )
    )
    frame = out.select(pl.col(c).cast(dtype) for c, dtype in PANEL.columns.items())
    return Panel(asset, timeframe, frame, sources, missing, as_of)


def _candidates(
    store: Store,
    series: pl.DataFrame,
    group: str,
    timeframe: str,
    as_of: datetime | None,
) -> list[Candidate]:
    wanted = _wants(group)
    rows = [r for r in series.iter_rows(named=True) if wanted(r)]
    rows.sort(key=lambda r: _rank(group, r, timeframe))
    out = []
    for row in rows:
        key = SeriesKey(
            str(row["venue"]),
            str(row["market"]),
            SeriesKind(str(row["kind"])),
            str(row["timeframe"]),
        )
        frame = _known_rows(read_series(store, key), key.timeframe, as_of)
        if group in _METRIC:
            frame = frame.filter(pl.col(METRIC) == _METRIC[group]).select(TS, VALUE)
        out.append(
            Candidate(
                str(key), key.timeframe, frame, _stale_bars(key.timeframe, timeframe)
            )
        )
    return out


def _known_rows(
    frame: pl.DataFrame, timeframe: str, as_of: datetime | None
) -> pl.DataFrame:
    if as_of is None:
        return frame
    step = timeframe_duration(timeframe) or timedelta(0)
    return frame.filter(pl.col(TS) + step <= as_of)


def _rank(group: str, row: _Row, timeframe: str) -> tuple[int, int, int, int]:
    venues = _VENUES.get(group, _VENUES["default"])
    venue = str(row["venue"])
    venue_rank = venues.index(venue) if venue in venues else len(venues)
    market = parse_market(str(row["market"]))
    quotes = ("USDT", "USD", "USDC")
    quote_rank = quotes.index(market.quote) if market.quote in quotes else len(quotes)
    linear = 0 if market.settle in (None, market.quote, "*") else 1
    step = timeframe_duration(timeframe)
    own = timeframe_duration(str(row["timeframe"]))
    if own is None or step is None:
        tf_rank = (1, 0)
    elif own == step:
        tf_rank = (0, 0)
    elif own < step:
        tf_rank = (1, -int(own.total_seconds()))
    else:
        tf_rank = (2, int(own.total_seconds()))
    return (venue_rank, linear * 10 + quote_rank, tf_rank[0], tf_rank[1])


def _stale_bars(source_tf: str, timeframe: str) -> int:
    step = timeframe_duration(timeframe)
    assert step is not None
    source = timeframe_duration(source_tf) or timedelta(hours=8)
    return max(1, math.ceil(2 * source / step))


def _bounds(
    asset: str,
    candidates: dict[str, list[Candidate]],
    start: datetime | None,
    end: datetime | None,
    as_of: datetime | None,
    step: timedelta,
) -> tuple[datetime, datetime]:
    prices = [
        c.frame[TS]
        for g in ("spot", "perp")
        for c in candidates[g]
        if not c.frame.is_empty()
    ]
    if not prices:
        raise InsufficientDataError(
            f"the store holds no spot or perp prices for {asset}"
            + (f" before {as_of:%Y-%m-%d %H:%M}" if as_of else "")
            + "; import candles first ('rallylens import') "
            "or fetch them ('rallylens fetch')"
        )
    first = min(_when(p.min()) for p in prices)
    last = max(_when(p.max()) for p in prices)
    lo = max(start, first) if start else first
    hi = min(end, last) if end else last
    if as_of is not None:
        hi = min(hi, as_of - step)
    return lo, hi


def _when(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value


def _why_missing(group: str, candidates: list[Candidate], bars: pl.DataFrame) -> str:
    if not candidates:
        return f"no {group.replace('_', ' ')} series in the store for this asset"
    if bars.is_empty():
        return "empty window"
    spans = [
        f"{c.label} covers {_when(c.frame[TS].min()):%Y-%m-%d}.."
        f"{_when(c.frame[TS].max()):%Y-%m-%d}"
        for c in candidates
        if not c.frame.is_empty()
    ]
    if not spans:
        return "no rows known by the as-of time"
    return (
        f"no data in {_when(bars[TS].min()):%Y-%m-%d}.."
        f"{_when(bars[TS].max()):%Y-%m-%d} (" + "; ".join(spans) + ")"
    )
