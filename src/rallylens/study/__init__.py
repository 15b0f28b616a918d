"""Evidence: every past rally judged point-in-time, its outcome, and the track record.

Flow: :func:`build_events` (rallies x checkpoints, features as of each decision
moment, ``fwd_*`` outcomes after it) -> :func:`run_study` (hit rates with
bootstrap intervals, single-signal separation, a walk-forward logistic model
scored against the base rate) -> :func:`failure_outlook` (P(fail) and
analogues of one rally). Pure functions: no I/O.
"""

from rallylens.study._outcomes import failed_column, label_outcomes, return_column
from rallylens.study._result import StudyResult, failure_outlook, run_study
from rallylens.study._stats import bootstrap_ci, hit_rates, separation
from rallylens.study.event_study import StudySpec, build_events, check_point_in_time
from rallylens.study.walkforward import (
    MODEL_FEATURES,
    LogisticModel,
    brier_score,
    fit_logistic,
    log_loss,
    reliability_table,
    walk_forward,
    walk_forward_splits,
)

__all__ = [
    "MODEL_FEATURES",
    "LogisticModel",
    "StudyResult",
    "StudySpec",
    "bootstrap_ci",
    "brier_score",
    "build_events",
    "check_point_in_time",
    "failed_column",
    "failure_outlook",
    "fit_logistic",
    "hit_rates",
    "label_outcomes",
    "log_loss",
    "reliability_table",
    "return_column",
    "run_study",
    "separation",
    "walk_forward",
    "walk_forward_splits",
]
