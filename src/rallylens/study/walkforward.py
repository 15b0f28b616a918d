"""A small, inspectable failure model, fitted and scored walk-forward.

The model is an L2-regularised logistic regression on a handful of anatomy
features (standardised on its training set; a missing value is set to the
training mean). For each event, in order of decision time, it is fitted on
the events whose whole outcome window had closed by that event's decision
(``decision_j + horizon <= decision_i``): no training label was unknown at
the time, and no training outcome window overlaps the test event's. The base
rate (the training set's failure rate) is scored on the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl

from rallylens.exceptions import InsufficientDataError
from rallylens.rallies import Signal
from rallylens.study._outcomes import EVENT_ID

__all__ = [
    "MODEL_FEATURES",
    "LogisticModel",
    "brier_score",
    "fit_logistic",
    "log_loss",
    "reliability_table",
    "walk_forward",
    "walk_forward_splits",
]

MODEL_FEATURES: tuple[str, ...] = (
    "score_bear_market_rally",
    "score_spot_led",
    "score_leveraged_long",
    Signal.REGIME_LEVEL.value,
    Signal.GAIN.value,
    Signal.MAX_RETRACED.value,
    Signal.REALIZED_VOL.value,
    Signal.VOLUME_AT_HIGHS.value,
    Signal.AT_RESISTANCE.value,
)
"""Features of the default model: the verdict scores (which already weigh the
leverage, funding, flow and options evidence) and price-only context that
every rally has."""

DEFAULT_L2 = 10.0
"""Ridge penalty on standardised slopes: a strong prior, since the model sees
20 to a few hundred events for 9 features (on BTC and ETH since 2018 weaker
penalties scored worse out of sample, none clearly beat the base rate)."""

FloatArray = np.ndarray
_EPS = 1e-6


@dataclass(frozen=True)
class LogisticModel:
    """A fitted model: ``p = 1 / (1 + exp(-(b0 + z . b)))``, ``z`` standardised."""

    features: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: float
    n_train: int

    def standardize(self, x: FloatArray) -> FloatArray:
        """Standardised features; missing values become 0 (the training mean)."""
        z = (x - self.mean) / self.scale
        return np.where(np.isnan(z), 0.0, z)

    def predict(self, x: FloatArray) -> FloatArray:
        """Probability of failure per row of ``x`` (columns in ``features``)."""
        eta = self.intercept + self.standardize(x) @ self.coef
        return np.asarray(1.0 / (1.0 + np.exp(-eta)))


def fit_logistic(
    x: FloatArray,
    y: FloatArray,
    *,
    features: tuple[str, ...],
    l2: float = DEFAULT_L2,
    iterations: int = 50,
) -> LogisticModel:
    """Fit by Newton-Raphson with an L2 penalty on the slopes (not the intercept).

    Parameters
    ----------
    x : ndarray
        ``(n, k)`` features, NaN where missing.
    y : ndarray
        ``n`` labels in {0, 1}.
    features : tuple of str
        Names of the columns of ``x``.
    l2 : float
        Penalty: minimises ``-loglik + l2 / 2 * |b|^2``.
    iterations : int
        Newton steps at most (stops when the step is below 1e-8).

    Raises
    ------
    InsufficientDataError
        If ``y`` holds a single class.
    """
    if y.size == 0 or y.min() == y.max():
        raise InsufficientDataError(
            f"{y.size} training events of one outcome only; the model needs both "
            "failed and held rallies"
        )
    mean = np.nanmean(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0)
    scale = np.nanstd(x, axis=0)
    scale = np.where(np.isnan(scale) | (scale < _EPS), 1.0, scale)
    mean = np.where(np.isnan(mean), 0.0, mean)
    z = np.where(np.isnan((x - mean) / scale), 0.0, (x - mean) / scale)
    design = np.column_stack([np.ones(y.size), z])
    beta = np.zeros(design.shape[1])
    beta[0] = np.log((y.mean() + _EPS) / (1 - y.mean() + _EPS))
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        grad = design.T @ (p - y) + penalty * beta
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hess + _EPS * np.eye(beta.size), grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return LogisticModel(features, mean, scale, beta[1:], float(beta[0]), int(y.size))


def walk_forward_splits(
    decision: list[object] | pl.Series, horizon: timedelta
) -> list[tuple[int, np.ndarray]]:
    """For each event, the events that may train the model that scores it.

    Parameters
    ----------
    decision : sequence of datetime
        Decision moments, one per event (any order).
    horizon : timedelta
        Outcome window length.

    Returns
    -------
    list of (int, ndarray)
        ``(i, train)``: the indices ``j`` with ``decision[j] + horizon <=
        decision[i]`` (their outcome was settled, and their window closed,
        before event ``i`` was decided).
    """
    ts = pl.Series(decision).cast(pl.Datetime("us", "UTC")).to_numpy()
    ends = ts + np.timedelta64(int(horizon.total_seconds() * 1e6), "us")
    return [(i, np.flatnonzero(ends <= ts[i])) for i in range(ts.size)]


def brier_score(p: FloatArray, y: FloatArray) -> float:
    """Mean squared error of probabilities against 0/1 outcomes."""
    return float(np.mean((p - y) ** 2))


def log_loss(p: FloatArray, y: FloatArray) -> float:
    """Mean negative log-likelihood (probabilities clipped to [1e-6, 1 - 1e-6])."""
    q = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def reliability_table(p: FloatArray, y: FloatArray, *, bins: int = 5) -> pl.DataFrame:
    """Predicted against observed failure rates in equal-width probability bins.

    Returns
    -------
    pl.DataFrame
        ``bin_lo``, ``bin_hi``, ``n``, ``mean_p`` and ``observed`` (null for an
        empty bin).
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        rows.append(
            {
                "bin_lo": float(edges[b]),
                "bin_hi": float(edges[b + 1]),
                "n": n,
                "mean_p": float(p[mask].mean()) if n else None,
                "observed": float(y[mask].mean()) if n else None,
            }
        )
    schema = {"bin_lo": pl.Float64, "bin_hi": pl.Float64, "n": pl.Int64,
              "mean_p": pl.Float64, "observed": pl.Float64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def feature_matrix(events: pl.DataFrame, features: tuple[str, ...]) -> FloatArray:
    """``(n, k)`` float matrix of ``features`` (NaN where null)."""
    return np.column_stack(
        [events[f].cast(pl.Float64).fill_null(np.nan).to_numpy() for f in features]
    )


def walk_forward(
    events: pl.DataFrame,
    *,
    label: str,
    decision: str,
    horizon: timedelta,
    features: tuple[str, ...] = MODEL_FEATURES,
    min_train: int = 20,
    l2: float = DEFAULT_L2,
) -> pl.DataFrame:
    """Out-of-sample failure probabilities of every event with enough history.

    Parameters
    ----------
    events : pl.DataFrame
        Events with a known boolean ``label``, ``event_id``, the ``decision``
        time column and the ``features``.
    label, decision : str
        Column names.
    horizon : timedelta
        Outcome window (purging gap).
    features : tuple of str
        Model inputs (never ``fwd_*`` columns).
    min_train : int
        Events with fewer eligible training events (or one class only) are
        not scored.
    l2 : float
        Ridge penalty.

    Returns
    -------
    pl.DataFrame
        ``event_id``, ``n_train``, ``p_model``, ``p_base`` and ``y`` for every
        scored event.
    """
    if any(f.startswith("fwd_") for f in features):
        raise InsufficientDataError(f"model features include outcomes: {features}")
    x = feature_matrix(events, features)
    y = events[label].cast(pl.Float64).to_numpy()
    ids = events[EVENT_ID].to_list()
    rows = []
    for i, train in walk_forward_splits(events[decision], horizon):
        if train.size < min_train or y[train].min() == y[train].max():
            continue
        model = fit_logistic(x[train], y[train], features=features, l2=l2)
        rows.append(
            {
                EVENT_ID: ids[i],
                "n_train": int(train.size),
                "p_model": float(model.predict(x[i : i + 1])[0]),
                "p_base": float(y[train].mean()),
                "y": float(y[i]),
            }
        )
    schema = {EVENT_ID: pl.Int64, "n_train": pl.Int64, "p_model": pl.Float64,
              "p_base": pl.Float64, "y": pl.Float64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)
