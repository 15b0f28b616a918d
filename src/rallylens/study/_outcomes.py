"""Forward outcomes of rally events: what price did after each decision moment.

Only this module reads prices after a decision moment; its columns are all
prefixed ``fwd_`` so no feature can be mistaken for one.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from rallylens.schemas import ASSET, CLOSE, TS

__all__ = [
    "DECISION_CLOSE",
    "DECISION_DAY",
    "EVENT_ID",
    "FWD_PREFIX",
    "LOW_CLOSE",
    "PEAK_CLOSE",
    "failed_column",
    "label_outcomes",
    "return_column",
]

FWD_PREFIX = "fwd_"
EVENT_ID = "event_id"
DECISION_DAY = "decision_day"
"""Last daily bar known at the decision (its close is the decision moment)."""
LOW_CLOSE = "low_price"
PEAK_CLOSE = "peak_at_decision"
"""Highest close from the rally's low to the decision day."""
DECISION_CLOSE = "close_at_decision"

_DAY = timedelta(days=1)
_K = "__k"


def failed_column(days: int) -> str:
    """Outcome column: the rally failed within ``days`` of the decision."""
    return f"{FWD_PREFIX}failed_{days}d"


def return_column(days: int) -> str:
    """Outcome column: close ``days`` after the decision / close at it - 1."""
    return f"{FWD_PREFIX}ret_{days}d"


def label_outcomes(
    daily: pl.DataFrame,
    events: pl.DataFrame,
    *,
    fail_days: tuple[int, ...] = (30, 90, 180),
    return_days: tuple[int, ...] = (7, 30, 90),
    drawdown_days: int = 90,
) -> pl.DataFrame:
    """Forward outcome columns of each event, from daily closes after it.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS (``asset, ts, close``) of the events' assets.
    events : pl.DataFrame
        ``event_id``, ``asset``, ``decision_day`` (day label of the last
        known daily bar), ``close_at_decision`` (its close), ``low_price``
        (the rally's low close) and ``peak_at_decision`` (highest close since
        the low, by the decision).
    fail_days, return_days : tuple of int
        Horizons in days after the decision day.
    drawdown_days : int
        Horizon of the maximum drawdown and of "peak exceeded".

    Returns
    -------
    pl.DataFrame
        ``event_id`` and, per horizon ``h``: ``fwd_failed_{h}d`` (True: a close
        below the rally's low came within ``h`` days and before any close
        above the peak; False: it did not, or the peak was exceeded first;
        null: not yet known), ``fwd_days_to_failure``, ``fwd_ret_{h}d``,
        ``fwd_max_drawdown_{d}d`` (lowest close / close at the decision - 1),
        ``fwd_peak_exceeded_{d}d`` and ``fwd_days_known`` (days of data after
        the decision).

    Notes
    -----
    Closes are used throughout, as in rally detection: a wick below the low
    that closes above it is not a failure. A label is only given once it is
    settled: a failure or a new high inside the available data settles it
    early; otherwise it needs the whole horizon.
    """
    longest = max((*fail_days, *return_days, drawdown_days))
    future = (
        events.select(EVENT_ID, ASSET, DECISION_DAY, LOW_CLOSE, PEAK_CLOSE)
        .join(daily.select(ASSET, TS, CLOSE), on=ASSET)
        .filter(
            (pl.col(TS) > pl.col(DECISION_DAY))
            & (pl.col(TS) <= pl.col(DECISION_DAY) + longest * _DAY)
        )
        .with_columns(((pl.col(TS) - pl.col(DECISION_DAY)).dt.total_days()).alias(_K))
    )
    broke = pl.col(CLOSE) < pl.col(LOW_CLOSE)
    above = pl.col(CLOSE) > pl.col(PEAK_CLOSE)
    first_fail = pl.col(_K).filter(broke).min()
    first_high = pl.col(_K).filter(above).min()
    per = future.group_by(EVENT_ID).agg(
        first_fail.alias("__fail_k"),
        first_high.alias("__high_k"),
        pl.col(_K).max().alias(f"{FWD_PREFIX}days_known"),
        *(
            pl.col(CLOSE).filter(pl.col(_K) == h).first().alias(f"__close_{h}")
            for h in return_days
        ),
        pl.col(CLOSE).filter(pl.col(_K) <= drawdown_days).min().alias("__min_close"),
    )
    base = events.select(EVENT_ID, DECISION_CLOSE)
    out = base.join(per, on=EVENT_ID, how="left").with_columns(
        pl.col(f"{FWD_PREFIX}days_known").fill_null(0)
    )
    known = pl.col(f"{FWD_PREFIX}days_known")
    fail_k, high_k = pl.col("__fail_k"), pl.col("__high_k")
    failed_first = fail_k.is_not_null() & (high_k.is_null() | (fail_k < high_k))
    exprs = []
    for h in fail_days:
        hit = failed_first & (fail_k <= h)
        settled = hit | (high_k <= h) | (known >= h)
        exprs.append(pl.when(settled).then(hit).alias(failed_column(h)))
    exprs.append(
        pl.when(failed_first).then(fail_k).alias(f"{FWD_PREFIX}days_to_failure")
    )
    for h in return_days:
        exprs.append(
            (pl.col(f"__close_{h}") / pl.col(DECISION_CLOSE) - 1).alias(
                return_column(h)
            )
        )
    full = known >= drawdown_days
    exprs.append(
        pl.when(full)
        .then((pl.col("__min_close") / pl.col(DECISION_CLOSE) - 1).clip(None, 0.0))
        .alias(f"{FWD_PREFIX}max_drawdown_{drawdown_days}d")
    )
    exprs.append(
        pl.when(high_k <= drawdown_days)
        .then(True)
        .when(full)
        .then(False)
        .alias(f"{FWD_PREFIX}peak_exceeded_{drawdown_days}d")
    )
    return out.select(EVENT_ID, *exprs, known)
