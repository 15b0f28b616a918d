"""Anatomy signals from option positioning: implied vol, skew, dealer gamma.

The inputs are the option columns of the daily bars
(:data:`rallylens.schemas.OPTION_BAR_COLUMNS`): per day, the newest chain
snapshot known by the day's close and not older than the bars' ``max_age``.
Snapshots are sparse, so changes over the rally need a snapshot near the low
(within the rally's first ``start_days``) and one on the as-of day; positions
(gamma, flip, wall) need one on the as-of day.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from rallylens.rallies._signals import Signal
from rallylens.schemas import (
    CLOSE,
    DVOL,
    LOW_TS,
    OPT_ATM_IV,
    OPT_CALL_WALL,
    OPT_GAMMA_FLIP,
    OPT_GEX_USD,
    OPT_RR25,
    TS,
)

__all__ = ["option_aggregations", "option_finish"]

_DAY = timedelta(days=1)
_IV_OPT = "__atm_iv_change"


def _near_low(col: str, start_days: int) -> pl.Expr:
    """Whether ``col`` has a value within the rally's first ``start_days``."""
    early = pl.col(TS) < pl.col(LOW_TS) + start_days * _DAY
    return pl.col(col).filter(early).is_not_null().any()


def _first_to_last(col: str, start_days: int) -> tuple[pl.Expr, pl.Expr]:
    values = pl.col(col).drop_nulls()
    ok = _near_low(col, start_days) & pl.col(col).last().is_not_null()
    return ok, values.first()


def option_aggregations(start_days: int) -> list[pl.Expr]:
    """Group-by aggregations over one rally window's daily rows.

    Parameters
    ----------
    start_days : int
        A change over the rally needs a value within this many days of the low.
    """
    iv_ok, iv_first = _first_to_last(OPT_ATM_IV, start_days)
    rr_ok, rr_first = _first_to_last(OPT_RR25, start_days)
    dvol = pl.col(DVOL).drop_nulls()
    atm_change = pl.when(iv_ok).then(pl.col(OPT_ATM_IV).last() / iv_first - 1)
    return [
        pl.coalesce(dvol.last() / dvol.first() - 1, atm_change).alias(Signal.IV_CHANGE),
        pl.coalesce(dvol.last(), pl.col(OPT_ATM_IV).last()).alias(Signal.IV_LAST),
        pl.when(rr_ok)
        .then(pl.col(OPT_RR25).last() - rr_first)
        .alias(Signal.SKEW_CHANGE),
        pl.col(OPT_RR25).last().alias(Signal.SKEW_LAST),
        pl.col(OPT_GEX_USD).last().alias(Signal.DEALER_GEX),
        (pl.col(CLOSE).last() / pl.col(OPT_GAMMA_FLIP).last() - 1).alias(
            Signal.VS_GAMMA_FLIP
        ),
        (pl.col(OPT_CALL_WALL).last() / pl.col(CLOSE).last() - 1).alias(
            Signal.CALL_WALL_DISTANCE
        ),
    ]


def option_finish(wall_band: float) -> pl.Expr:
    """The call-wall pin, from the aggregated signals.

    Parameters
    ----------
    wall_band : float
        Distance (fraction of price) from the call wall at which the pin
        fades to 0.

    Notes
    -----
    ``pin = max(0, 1 - |call wall / close - 1| / wall_band)`` while dealers
    are net long gamma (they sell rallies into the wall to stay hedged), 0
    while they are short gamma, null without a snapshot on the as-of day.
    """
    gex = pl.col(Signal.DEALER_GEX)
    distance = pl.col(Signal.CALL_WALL_DISTANCE)
    pin = (1 - distance.abs() / wall_band).clip(0.0, 1.0)
    return (
        pl.when(gex.is_null() | distance.is_null())
        .then(None)
        .when(gex > 0)
        .then(pin)
        .otherwise(0.0)
        .alias(Signal.CALL_WALL_PIN)
    )
