"""The study in one call, and the failure outlook of one rally from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from rallylens.exceptions import InsufficientDataError
from rallylens.rallies import VERDICT, Signal
from rallylens.schemas import ASSET, CONFIRM_TS, LOW_TS, RALLY_ID
from rallylens.study._outcomes import EVENT_ID, failed_column, return_column
from rallylens.study._stats import hit_rates, separation
from rallylens.study.event_study import (
    CHECKPOINT_DAYS,
    DECISION_TS,
    EVENT_STATUS,
    REASON,
    StudySpec,
    build_events,
)
from rallylens.study.walkforward import (
    MODEL_FEATURES,
    LogisticModel,
    brier_score,
    feature_matrix,
    fit_logistic,
    log_loss,
    reliability_table,
    walk_forward,
)

__all__ = ["StudyResult", "failure_outlook", "run_study"]

_COVERAGE = {
    "OI": Signal.OI_CHANGE,
    "funding": Signal.FUNDING_MEAN,
    "liquidations": Signal.LIQ_SHORT_USD,
    "spot/perp volume": Signal.SPOT_SHARE,
    "taker CVD": Signal.SPOT_CVD_RATIO,
    "implied vol (DVOL or ATM IV)": Signal.IV_CHANGE,
    "option positioning": Signal.DEALER_GEX,
    "ETF flows": Signal.ETF_FLOW_USD,
}
"""Which signal tells that a data group was available for an event."""


@dataclass(frozen=True)
class StudyResult:
    """Everything the study found, each part a frame or plain values.

    Attributes
    ----------
    events : pl.DataFrame
        The event table (see :func:`build_events`).
    hit_rates : pl.DataFrame
        Per verdict, per regime and overall (confirmation checkpoint, one
        event per rally): n, failure rate with interval, 30-day return; then
        ``by == "checkpoint"``: the overall row judged at each checkpoint.
    predictions : pl.DataFrame
        Walk-forward out-of-sample probabilities per scored event.
    reliability : pl.DataFrame
        Predicted against observed failure rates of ``predictions``.
    scores : dict
        ``brier``, ``base_brier``, ``log_loss``, ``base_log_loss``,
        ``n_scored``, ``n_rallies_scored``.
    separation : pl.DataFrame
        Single-signal AUCs against failure (confirmation checkpoint).
    coverage : list of str
        Which data each result rests on ("OI available for 41 of 63 events").
    dropped : pl.DataFrame
        ``reason``, ``n``: events left out of the rates and the model.
    spec : StudySpec
        The settings used.
    timeframe : str, optional
        Bars the events were computed on, when known.
    """

    events: pl.DataFrame
    hit_rates: pl.DataFrame
    predictions: pl.DataFrame
    reliability: pl.DataFrame
    scores: dict[str, float | int | None]
    separation: pl.DataFrame
    coverage: list[str]
    dropped: pl.DataFrame
    spec: StudySpec = field(default_factory=StudySpec)
    timeframe: str | None = None

    @property
    def label(self) -> str:
        """The outcome column the rates and the model use."""
        return failed_column(self.spec.horizon_days)

    def known(self) -> pl.DataFrame:
        """Events with a settled outcome (the model's material)."""
        return self.events.filter(
            (pl.col(EVENT_STATUS) == "ok") & pl.col(self.label).is_not_null()
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the event table)."""
        return {
            "horizon_days": self.spec.horizon_days,
            "checkpoints": list(self.spec.checkpoints),
            "hit_rates": self.hit_rates.to_dicts(),
            "scores": self.scores,
            "reliability": self.reliability.to_dicts(),
            "separation": self.separation.to_dicts(),
            "coverage": self.coverage,
            "dropped": self.dropped.to_dicts(),
            "n_events": self.events.height,
            "timeframe": self.timeframe,
        }


def run_study(bars: pl.DataFrame, spec: StudySpec | None = None) -> StudyResult:
    """Event table, hit rates, walk-forward model and its scores.

    Parameters
    ----------
    bars : pl.DataFrame
        Schema BARS of every asset to study, sorted by ``asset, ts``.
    spec : StudySpec, optional
        Checkpoints, horizons, bootstrap settings.
    """
    spec = spec or StudySpec()
    events = build_events(bars, spec)
    label = failed_column(spec.horizon_days)
    known = events.filter((pl.col(EVENT_STATUS) == "ok") & pl.col(label).is_not_null())
    first = known.filter(pl.col(CHECKPOINT_DAYS) == min(spec.checkpoints))
    rates = hit_rates(
        first,
        failed=label,
        fwd_30d=return_column(30),
        min_n=spec.min_n,
        resamples=spec.bootstrap,
        confidence=spec.confidence,
        seed=spec.seed,
    )
    rates = pl.concat([rates, _by_checkpoint(known, spec)])
    signals = [s.value for s in Signal] + list(MODEL_FEATURES[:3])
    sep = separation(first, signals, failed=label, min_n=spec.min_n)
    horizon = timedelta(days=spec.horizon_days)
    preds = walk_forward(known, label=label, decision=DECISION_TS, horizon=horizon)
    return StudyResult(
        events=events,
        hit_rates=rates,
        predictions=preds,
        reliability=_reliability(preds),
        scores=_scores(preds, known),
        separation=sep,
        coverage=_coverage(events, spec),
        dropped=_dropped(events, known, preds),
        spec=spec,
    )


def _by_checkpoint(known: pl.DataFrame, spec: StudySpec) -> pl.DataFrame:
    """The overall row at every checkpoint (failure is judged from each)."""
    rows = []
    for days in spec.checkpoints:
        part = known.filter(pl.col(CHECKPOINT_DAYS) == days)
        row = hit_rates(
            part,
            failed=failed_column(spec.horizon_days),
            fwd_30d=return_column(30),
            min_n=spec.min_n,
            resamples=spec.bootstrap,
            confidence=spec.confidence,
            seed=spec.seed + days,
        ).head(1)
        label = "at confirmation" if days == 0 else f"{days} days after"
        rows.append(row.with_columns(by=pl.lit("checkpoint"), group=pl.lit(label)))
    return pl.concat(rows)


def _reliability(preds: pl.DataFrame) -> pl.DataFrame:
    return reliability_table(preds["p_model"].to_numpy(), preds["y"].to_numpy())


def _scores(preds: pl.DataFrame, known: pl.DataFrame) -> dict[str, float | int | None]:
    if preds.is_empty():
        keys = ("brier", "base_brier", "log_loss", "base_log_loss")
        return {**dict.fromkeys(keys), "n_scored": 0, "n_rallies_scored": 0}
    p, b, y = (preds[c].to_numpy() for c in ("p_model", "p_base", "y"))
    rallies = known.join(preds.select(EVENT_ID), on=EVENT_ID).select(ASSET, RALLY_ID)
    return {
        "brier": brier_score(p, y),
        "base_brier": brier_score(b, y),
        "log_loss": log_loss(p, y),
        "base_log_loss": log_loss(b, y),
        "n_scored": preds.height,
        "n_rallies_scored": rallies.unique().height,
    }


def _coverage(events: pl.DataFrame, spec: StudySpec) -> list[str]:
    judged = events.filter(
        pl.col(EVENT_STATUS).is_in(["ok", "outcome_pending"])
        & (pl.col(CHECKPOINT_DAYS) == min(spec.checkpoints))
    )
    n = judged.height
    lines = []
    for name, signal in _COVERAGE.items():
        have = judged.filter(pl.col(signal.value).is_not_null()).height
        lines.append(f"{name} available for {have} of {n} rallies (at confirmation)")
    return lines


def _dropped(
    events: pl.DataFrame, known: pl.DataFrame, preds: pl.DataFrame
) -> pl.DataFrame:
    out = (
        events.filter(pl.col(EVENT_STATUS) != "ok")
        .group_by(EVENT_STATUS)
        .agg(pl.len().alias("n"), pl.col(REASON).first().alias("example"))
        .rename({EVENT_STATUS: "reason"})
    )
    warm = known.height - preds.height
    extra = pl.DataFrame(
        {
            "reason": ["model_warm_up"],
            "n": [warm],
            "example": [
                "fewer than 20 earlier events with a closed outcome window "
                "(or one outcome only): not scored out of sample"
            ],
        },
        schema=out.schema,
    )
    return pl.concat([out.sort("reason"), extra])


def failure_outlook(
    result: StudyResult,
    row: dict[str, Any],
    *,
    as_of: datetime,
    asset: str,
    low_ts: datetime,
    confirm_ts: datetime | None,
) -> dict[str, Any]:
    """P(fail) of one rally from a model fitted on the settled past, + analogues.

    Parameters
    ----------
    result : StudyResult
        The study over the store's assets.
    row : dict
        The rally's anatomy signals and ``score_*`` values as of ``as_of``.
    as_of : datetime
        Only events whose outcome window had closed by then train the model.
    asset, low_ts, confirm_ts
        The rally itself (excluded from its analogues).

    Returns
    -------
    dict
        ``p_fail``, ``horizon_days``, ``model``, ``n_train`` (events),
        ``n_rallies``, ``brier``, ``base_brier``, ``text`` and ``analogues``
        (the 3 nearest past events in standardised feature space, with their
        outcomes).
    """
    spec = result.spec
    horizon = timedelta(days=spec.horizon_days)
    known = result.known()
    train = known.filter(pl.col(DECISION_TS) + horizon <= as_of)
    train = train.filter(~((pl.col(ASSET) == asset) & (pl.col(LOW_TS) == low_ts)))
    y = train[result.label].cast(pl.Float64).to_numpy()
    base = {"horizon_days": spec.horizon_days, "model": "walk-forward logistic "
            f"regression on {len(MODEL_FEATURES)} features"}  # fmt: skip
    try:
        model = fit_logistic(
            feature_matrix(train, MODEL_FEATURES), y, features=MODEL_FEATURES
        )
    except InsufficientDataError as exc:
        return {**base, "p_fail": None, "n_train": train.height, "text": str(exc),
                "analogues": [], "brier": None, "base_brier": None}  # fmt: skip
    x = np.array([[_num(row.get(f)) for f in MODEL_FEATURES]])
    p = float(model.predict(x)[0])
    n_rallies = train.select(ASSET, RALLY_ID).unique().height
    scores = result.scores
    brier, base_brier = scores.get("brier"), scores.get("base_brier")
    skill = (
        f"Brier {brier:.2f} vs {base_brier:.2f} base rate"
        if isinstance(brier, float) and isinstance(base_brier, float)
        else "not yet scored out of sample"
    )
    days = (as_of - confirm_ts).days if confirm_ts is not None else 0
    return {
        **base,
        "p_fail": p,
        "n_train": train.height,
        "n_rallies": n_rallies,
        "brier": brier,
        "base_brier": base_brier,
        "text": f"P(fail within {spec.horizon_days} days) = {p:.2f} (walk-forward "
        f"model, n={n_rallies} past rallies, {skill})",
        "analogues": _analogues(model, train, x, days, result),
    }


def _num(value: object) -> float:
    if value is None:
        return float("nan")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _analogues(
    model: LogisticModel,
    train: pl.DataFrame,
    x: np.ndarray,
    days: int,
    result: StudyResult,
    k: int = 3,
) -> list[dict[str, Any]]:
    """The ``k`` nearest past events at the checkpoint closest to ``days``."""
    cps = np.array(result.spec.checkpoints)
    cp = int(cps[np.argmin(np.abs(cps - days))])
    pool = train.filter(pl.col(CHECKPOINT_DAYS) == cp)
    if pool.is_empty():
        return []
    z = model.standardize(feature_matrix(pool, MODEL_FEATURES))
    dist = np.sqrt(((z - model.standardize(x)) ** 2).sum(axis=1))
    order = np.argsort(dist)[:k]
    out = []
    for i in order:
        r = pool.row(int(i), named=True)
        out.append(
            {
                "asset": r[ASSET],
                "low_ts": r[LOW_TS],
                "confirm_ts": r[CONFIRM_TS],
                "checkpoint_days": cp,
                "verdict": r[VERDICT],
                "gain": r[Signal.GAIN.value],
                "failed": r[result.label],
                "days_to_failure": r["fwd_days_to_failure"],
                "fwd_30d": r[return_column(30)],
                "distance": float(dist[i]),
            }
        )
    return out
