"""The event table: every rally judged at fixed decision moments, with outcomes.

Decision moments (checkpoints) are the close of the day a rally was
confirmed (its first close at or above ``low x (1 + threshold)``, the moment
the detector can first say "this is a rally") and the closes ``7``, ``14``
and ``30`` days later. At each, the anatomy and verdict are computed from
bars up to that close only; outcomes (``fwd_*``) come from the closes after
it. Events that cannot be judged or labelled stay in the table with a status
and a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from rallylens._typing import RallyStatus
from rallylens.exceptions import ConfigError, InsufficientDataError, LookAheadError
from rallylens.features import to_daily
from rallylens.rallies import (
    RallySpecs,
    compute_anatomies,
    detect_rallies,
    score_verdicts,
)
from rallylens.schemas import (
    AS_OF,
    ASSET,
    CLOSE,
    CONFIRM_TS,
    END_TS,
    LOW_TS,
    RALLY_ID,
    STATUS,
    TS,
)
from rallylens.study._outcomes import (
    DECISION_CLOSE,
    DECISION_DAY,
    EVENT_ID,
    FWD_PREFIX,
    PEAK_CLOSE,
    failed_column,
    label_outcomes,
)

__all__ = [
    "CHECKPOINT_DAYS",
    "DECISION_TS",
    "EVENT_STATUS",
    "FEATURES_AS_OF",
    "REASON",
    "StudySpec",
    "build_events",
    "check_point_in_time",
]

CHECKPOINT_DAYS = "checkpoint_days"
DECISION_TS = "decision_ts"
"""The decision moment: the close of ``decision_day`` (its label + 1 day)."""
FEATURES_AS_OF = "features_as_of"
"""Time of the newest data any feature of the row was computed from."""
EVENT_STATUS = "event_status"
REASON = "reason"

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class StudySpec:
    """What the study measures.

    Attributes
    ----------
    checkpoints : tuple of int
        Days after the confirmation day at which each rally is judged.
    horizon_days : int
        The failure horizon of the model and hit rates (one of
        ``fail_days``).
    fail_days, return_days : tuple of int
        Outcome horizons (days after the decision).
    since : datetime, optional
        Only rallies whose low is on or after this time.
    min_n : int
        Groups with fewer known outcomes say "too few" instead of a rate.
    bootstrap : int
        Bootstrap resamples of each interval.
    confidence : float
        Two-sided level of the intervals.
    seed : int
        Seed of the bootstrap.
    """

    checkpoints: tuple[int, ...] = (0, 7, 14, 30)
    horizon_days: int = 90
    fail_days: tuple[int, ...] = (30, 90, 180)
    return_days: tuple[int, ...] = (7, 30, 90)
    since: datetime | None = None
    min_n: int = 5
    bootstrap: int = 2000
    confidence: float = 0.90
    seed: int = 7
    specs: RallySpecs = field(default_factory=RallySpecs)

    def __post_init__(self) -> None:
        if self.horizon_days not in self.fail_days:
            raise ConfigError(
                f"horizon_days {self.horizon_days} must be one of the failure "
                f"horizons {self.fail_days}"
            )
        if not self.checkpoints or min(self.checkpoints) < 0:
            raise ConfigError(f"checkpoints must be >= 0 days, got {self.checkpoints}")
        if not 0 < self.confidence < 1 or self.bootstrap < 100:
            raise ConfigError("need 0 < confidence < 1 and bootstrap >= 100")


def build_events(bars: pl.DataFrame, spec: StudySpec | None = None) -> pl.DataFrame:
    """One row per rally and checkpoint: features as of then, outcomes after.

    Parameters
    ----------
    bars : pl.DataFrame
        Schema BARS of one or more assets, sorted by ``asset, ts``.
    spec : StudySpec, optional
        Checkpoints, horizons and the rally specs.

    Returns
    -------
    pl.DataFrame
        ``event_id``, ``asset``, ``rally_id``, ``checkpoint_days``,
        ``low_ts``, ``confirm_ts``, ``decision_day``, ``decision_ts``,
        ``features_as_of``, ``regime``, ``threshold``, ``low_price``,
        ``close_at_decision``, ``peak_at_decision``, every anatomy signal,
        ``score_*``/``coverage_*``, ``verdict``, ``confidence``, the ``fwd_*``
        outcomes, ``event_status`` (``ok``, ``outcome_pending``,
        ``ended_before_checkpoint``, ``checkpoint_in_future``) and ``reason``.

    Raises
    ------
    InsufficientDataError
        If no rally is found (after ``spec.since``).
    """
    spec = spec or StudySpec()
    daily = to_daily(bars)
    rallies = detect_rallies(daily, spec.specs.detect, regime_spec=spec.specs.regime)
    if spec.since is not None:
        rallies = rallies.filter(pl.col(LOW_TS) >= spec.since)
    if rallies.is_empty():
        since = f" with a low on or after {spec.since:%Y-%m-%d}" if spec.since else ""
        raise InsufficientDataError(
            f"no rally{since} in {daily.height} days of prices: nothing to study; "
            "widen --since or load more history"
        )
    last_day = daily.group_by(ASSET).agg(pl.col(TS).max().alias("__last_day"))
    events = _checkpoint_rows(rallies, last_day, spec.checkpoints)
    judged = _judge(bars, daily, events, spec)
    events = events.join(judged, on=EVENT_ID, how="left")
    events = events.join(_decision_prices(daily, events), on=EVENT_ID, how="left")
    usable = events.filter(pl.col(EVENT_STATUS) == "ok")
    outcomes = label_outcomes(
        daily,
        usable,
        fail_days=spec.fail_days,
        return_days=spec.return_days,
        drawdown_days=spec.horizon_days,
    )
    events = events.join(outcomes, on=EVENT_ID, how="left")
    events = _pending(events, spec.horizon_days)
    check_point_in_time(events)
    return events.sort(DECISION_TS, ASSET)


def _checkpoint_rows(
    rallies: pl.DataFrame, last_day: pl.DataFrame, checkpoints: tuple[int, ...]
) -> pl.DataFrame:
    """Rallies x checkpoints with each row's decision day and status."""
    cps = pl.DataFrame(
        {CHECKPOINT_DAYS: list(checkpoints)}, schema={CHECKPOINT_DAYS: pl.Int64}
    )
    rows = rallies.join(cps, how="cross").join(last_day, on=ASSET, how="left")
    day = pl.col(CONFIRM_TS).dt.truncate("1d") + pl.duration(
        days=pl.col(CHECKPOINT_DAYS)
    )
    ended = pl.col(END_TS).is_not_null() & (day >= pl.col(END_TS))
    future = day > pl.col("__last_day")
    rows = rows.with_columns(day.alias(DECISION_DAY)).with_columns(
        (pl.col(DECISION_DAY) + _DAY).alias(DECISION_TS),
        (pl.col(DECISION_DAY) + _DAY).alias(FEATURES_AS_OF),
        pl.when(ended)
        .then(pl.lit("ended_before_checkpoint"))
        .when(future)
        .then(pl.lit("checkpoint_in_future"))
        .otherwise(pl.lit("ok"))
        .alias(EVENT_STATUS),
        pl.when(ended)
        .then(
            pl.format(
                "the rally had ended on {} (before the checkpoint)",
                pl.col(END_TS).dt.date(),
            )
        )
        .when(future)
        .then(pl.lit("the checkpoint is after the last day of data"))
        .alias(REASON),
    )
    rows = rows.sort(ASSET, LOW_TS, CHECKPOINT_DAYS).with_row_index(EVENT_ID)
    return rows.drop("__last_day", AS_OF, STATUS).with_columns(
        pl.col(EVENT_ID).cast(pl.Int64)
    )


def _judge(
    bars: pl.DataFrame, daily: pl.DataFrame, events: pl.DataFrame, spec: StudySpec
) -> pl.DataFrame:
    """Anatomy and verdict of every judgeable event, as of its decision day.

    The anatomy needs non-overlapping windows per asset, so each call takes
    one checkpoint and every other rally of an asset.
    """
    ok = events.filter(pl.col(EVENT_STATUS) == "ok").with_columns(
        pl.col(DECISION_DAY).alias(AS_OF),
        (pl.col(RALLY_ID).rank("dense").over(ASSET) % 2).alias("__parity"),
    )
    parts = []
    for _, group in ok.group_by(CHECKPOINT_DAYS, "__parity"):
        frame = group.with_columns(
            pl.col(EVENT_ID).alias(RALLY_ID),
            pl.lit(RallyStatus.IN_PROGRESS.value).alias(STATUS),
        )
        anatomy = compute_anatomies(bars, daily, frame, spec.specs.anatomy)
        verdicts = score_verdicts(anatomy, spec.specs.verdict)
        parts.append(
            anatomy.join(verdicts, on=[ASSET, RALLY_ID])
            .drop(ASSET)
            .rename({RALLY_ID: EVENT_ID})
        )
    if not parts:
        return pl.DataFrame(schema={EVENT_ID: pl.Int64})
    return pl.concat(parts)


def _decision_prices(daily: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Close on the decision day and the highest close since the low."""
    window = (
        events.select(EVENT_ID, ASSET, LOW_TS, DECISION_DAY)
        .join(daily.select(ASSET, TS, CLOSE), on=ASSET)
        .filter(
            (pl.col(TS) >= pl.col(LOW_TS).dt.truncate("1d"))
            & (pl.col(TS) <= pl.col(DECISION_DAY))
        )
        .sort(EVENT_ID, TS)
    )
    return window.group_by(EVENT_ID).agg(
        pl.col(CLOSE).last().alias(DECISION_CLOSE),
        pl.col(CLOSE).max().alias(PEAK_CLOSE),
    )


def _pending(events: pl.DataFrame, horizon_days: int) -> pl.DataFrame:
    label = pl.col(failed_column(horizon_days))
    pending = (pl.col(EVENT_STATUS) == "ok") & label.is_null()
    return events.with_columns(
        pl.when(pending)
        .then(pl.lit("outcome_pending"))
        .otherwise(pl.col(EVENT_STATUS))
        .alias(EVENT_STATUS),
        pl.when(pending)
        .then(
            pl.format(
                "only {} days of prices after the decision; the {}-day outcome "
                "is not settled yet",
                pl.col(f"{FWD_PREFIX}days_known").fill_null(0),
                pl.lit(horizon_days),
            )
        )
        .otherwise(pl.col(REASON))
        .alias(REASON),
    )


def check_point_in_time(events: pl.DataFrame) -> None:
    """Refuse an event table whose features were computed after the decision.

    Raises
    ------
    LookAheadError
        If any row's ``features_as_of`` is later than its ``decision_ts``,
        naming the first such event.
    """
    late = events.filter(pl.col(FEATURES_AS_OF) > pl.col(DECISION_TS))
    if late.height:
        row = late.row(0, named=True)
        raise LookAheadError(
            f"{late.height} events use data from after their decision moment, "
            f"e.g. {row[ASSET]} rally {row[RALLY_ID]} decided at "
            f"{row[DECISION_TS]:%Y-%m-%d %H:%M} with features as of "
            f"{row[FEATURES_AS_OF]:%Y-%m-%d %H:%M}; the study will not use them"
        )
