"""Price levels drawn on the price figure: pure functions over daily bars.

They follow the definitions of the rally anatomy (:mod:`rallylens.rallies`),
so the last value of each curve equals the anatomy's number for the rally.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from rallylens.rallies import FIB_LEVELS, AnatomySpec
from rallylens.reports.figures._common import to_time
from rallylens.schemas import (
    CLOSE,
    DECLINE_HIGH,
    DECLINE_HIGH_TS,
    HIGH,
    LOW,
    LOW_PRICE,
    LOW_TS,
    TS,
    VOLUME,
)

__all__ = [
    "LEVEL",
    "PROFILE_HI",
    "PROFILE_LO",
    "VWAP",
    "anchored_vwap",
    "fib_levels",
    "support_levels",
    "volume_profile",
]

VWAP = "vwap"
LEVEL = "level"
PROFILE_LO, PROFILE_HI = "price_lo", "price_hi"
_DAY = timedelta(days=1)


def _typical() -> pl.Expr:
    return (pl.col(HIGH) + pl.col(LOW) + pl.col(CLOSE)) / 3


def anchored_vwap(daily: pl.DataFrame, anchor: datetime) -> pl.DataFrame:
    """VWAP anchored at ``anchor``: one value per day from the anchor day on.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS: ``ts``, ``high``, ``low``, ``close`` (USD), ``volume``
        (base asset; null counts as 0), sorted by ``ts``.
    anchor : datetime
        First day of the average (included).

    Returns
    -------
    pl.DataFrame
        ``ts`` and ``vwap`` (USD); null until some volume has traded.

    Notes
    -----
    ``vwap_t = sum(typical_i * volume_i) / sum(volume_i)`` over days
    ``anchor <= i <= t``, with ``typical = (high + low + close) / 3``, as in
    the anatomy's ``vwap_decline`` / ``vwap_rally``.
    """
    vol = pl.col(VOLUME).fill_null(0)
    cum_v = vol.cum_sum()
    return daily.filter(pl.col(TS) >= anchor).select(
        pl.col(TS),
        pl.when(cum_v > 0)
        .then((_typical() * vol).cum_sum() / cum_v)
        .otherwise(None)
        .alias(VWAP),
    )


def fib_levels(low: float, high: float) -> list[tuple[float, float]]:
    """Retracement levels of a decline from ``high`` to ``low``.

    Returns
    -------
    list of (fraction, price)
        ``price = low + fraction * (high - low)`` for each of
        :data:`rallylens.rallies.FIB_LEVELS` (0.382, 0.5, 0.618, 0.786).
    """
    return [(f, low + f * (high - low)) for f in FIB_LEVELS]


def support_levels(
    daily: pl.DataFrame,
    rally: Mapping[str, Any],
    *,
    spec: AnatomySpec | None = None,
    max_levels: int = 8,
) -> pl.DataFrame:
    """Prior supports the decline broke, now resistance above the rally's low.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS (``ts``, ``close`` in USD) up to the as-of day, sorted.
    rally : mapping
        A row of the rallies table: ``low_ts``, ``low_price``,
        ``decline_high_ts``, ``decline_high``.
    spec : AnatomySpec, optional
        ``fractal_days``, ``level_lookback_days`` and ``level_tolerance``
        (the anatomy's defaults).
    max_levels : int, default 8
        Keep the levels nearest the last close.

    Returns
    -------
    pl.DataFrame
        ``ts`` (the swing low's day) and ``level`` (USD), ascending by level;
        levels within ``level_tolerance`` of each other are merged.

    Notes
    -----
    A swing low is a close lower than the ``fractal_days`` closes on each
    side. It counts when it formed at most ``level_lookback_days`` before the
    decline's high and ``fractal_days`` before the rally's low, and lies
    between the low and the decline's high: the anatomy's ``resistance`` is
    the lowest of these above the close.
    """
    spec = spec or AnatomySpec()
    low_ts, high_ts = to_time(rally.get(LOW_TS)), to_time(rally.get(DECLINE_HIGH_TS))
    low, high = rally.get(LOW_PRICE), rally.get(DECLINE_HIGH)
    empty = pl.DataFrame(schema={TS: daily.schema[TS], LEVEL: pl.Float64})
    if None in (low_ts, high_ts, low, high) or daily.is_empty():
        return empty
    assert low_ts is not None and high_ts is not None  # for mypy
    k = spec.fractal_days
    close = pl.col(CLOSE)
    found = daily.select(
        TS,
        close.alias(LEVEL),
        (close.rolling_min(2 * k + 1, center=True) == close).alias("__swing_low"),
    ).filter(
        pl.col("__swing_low")
        & (pl.col(TS) + k * _DAY <= low_ts)
        & (pl.col(TS) >= high_ts - spec.level_lookback_days * _DAY)
        & (pl.col(LEVEL) > low)
        & (pl.col(LEVEL) < high)
    )
    rows = sorted(found.select(TS, LEVEL).iter_rows(), key=lambda r: r[1])
    kept: list[tuple[Any, float]] = []
    for ts, level in rows:
        if kept and level <= kept[-1][1] * (1 + spec.level_tolerance):
            continue
        kept.append((ts, level))
    last = float(daily[CLOSE][-1])
    kept = sorted(kept, key=lambda r: abs(r[1] / last - 1))[:max_levels]
    if not kept:
        return empty
    return pl.DataFrame(kept, schema=empty.schema, orient="row").sort(LEVEL)


def volume_profile(
    daily: pl.DataFrame,
    *,
    start: datetime,
    end: datetime,
    price_lo: float,
    price_hi: float,
    bins: int = 24,
) -> pl.DataFrame:
    """Volume traded per price bin between two days.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS: ``ts``, ``high``, ``low``, ``close`` (USD), ``volume``.
    start, end : datetime
        Days included (both ends).
    price_lo, price_hi : float
        Range split into ``bins`` equal bins (USD).
    bins : int, default 24
        Number of bins.

    Returns
    -------
    pl.DataFrame
        One row per bin: ``price_lo``, ``price_hi`` (USD) and ``volume``
        (base asset), every bin present (0 where nothing traded).

    Notes
    -----
    Each day's volume goes to the bin of its typical price
    ``(high + low + close) / 3``, as in the anatomy's high-volume nodes.
    """
    width = (price_hi - price_lo) / bins if price_hi > price_lo else 0.0
    edges = pl.DataFrame(
        {
            "__bin": list(range(bins)),
            PROFILE_LO: [price_lo + i * width for i in range(bins)],
            PROFILE_HI: [price_lo + (i + 1) * width for i in range(bins)],
        },
        schema={"__bin": pl.Int64, PROFILE_LO: pl.Float64, PROFILE_HI: pl.Float64},
    )
    if width <= 0:
        return edges.drop("__bin").with_columns(pl.lit(0.0).alias(VOLUME))
    window = daily.filter(pl.col(TS).is_between(start, end))
    binned = (
        window.select(
            ((_typical() - price_lo) / width)
            .floor()
            .clip(0, bins - 1)
            .cast(pl.Int64)
            .alias("__bin"),
            pl.col(VOLUME).fill_null(0),
        )
        .drop_nulls("__bin")
        .group_by("__bin")
        .agg(pl.col(VOLUME).sum())
    )
    return (
        edges.join(binned, on="__bin", how="left")
        .sort("__bin")
        .select(PROFILE_LO, PROFILE_HI, pl.col(VOLUME).fill_null(0.0))
    )
