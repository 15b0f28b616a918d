"""Response models of the dashboard's JSON API (they make its OpenAPI schema).

Field names follow the library's frames and result objects: a rally's fields
are the columns of :data:`rallylens.schemas.RALLIES`, an analysis mirrors
:meth:`rallylens.rallies.RallyAnalysis.to_dict`, the study's tables the
columns of ``rallylens.study.StudyResult``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Analogue",
    "AnalysisOut",
    "AssetOut",
    "AssetsOut",
    "DataRange",
    "DroppedOut",
    "ErrorOut",
    "FailureOut",
    "FigureOut",
    "FiguresOut",
    "HitRateOut",
    "RalliesOut",
    "RallyOut",
    "RallyRow",
    "ReasonOut",
    "ReliabilityOut",
    "StudyOut",
]


class _Lenient(BaseModel):
    """Ignores fields the model does not list (results may grow)."""

    model_config = ConfigDict(extra="ignore")


class DataRange(BaseModel):
    """As-of times the asset's data can answer, and the matching bare dates."""

    first: datetime = Field(description="Close of the first bar (UTC).")
    last: datetime = Field(description="Close of the last bar (UTC).")
    first_date: date = Field(description="Earliest bare date accepted by `at`.")
    last_date: date = Field(description="Latest bare date accepted by `at`.")


class AssetOut(BaseModel):
    """One asset of the store with price bars."""

    asset: str
    timeframe: str = Field(description="Bar length of the dashboard's analysis.")
    bars: int = Field(description="Number of price bars.")
    range: DataRange
    missing: dict[str, str] = Field(
        description="Column groups without data for the asset, and why."
    )


class AssetsOut(BaseModel):
    """Every asset of the store with price bars."""

    store: str
    assets: list[AssetOut]


class ReasonOut(_Lenient):
    """One piece of evidence as it applied to the rally."""

    kind: str
    text: str
    strength: float
    weight: float


class RallyOut(_Lenient):
    """One rally: the columns of ``rallylens.schemas.RALLIES``."""

    asset: str
    rally_id: int
    low_ts: datetime
    low_price: float
    confirm_ts: datetime
    peak_ts: datetime
    peak_price: float | None = None
    end_ts: datetime | None = None
    decline_high_ts: datetime | None = None
    decline_high: float | None = None
    threshold: float | None = None
    regime: str | None = None
    status: str
    as_of: datetime


class Analogue(_Lenient):
    """A past rally close to this one in the failure model's feature space."""

    asset: str | None = None
    low_ts: datetime | None = None
    confirm_ts: datetime | None = None
    checkpoint_days: int | None = Field(
        default=None, description="Days after confirmation the event was judged."
    )
    verdict: str | None = None
    gain: float | None = None
    failed: bool | None = Field(
        default=None, description="Failed within the horizon (null: pending)."
    )
    days_to_failure: float | None = None
    fwd_30d: float | None = Field(default=None, description="30-day return after.")
    distance: float | None = Field(
        default=None, description="Distance in standardised feature space."
    )


class FailureOut(_Lenient):
    """The walk-forward probability that the rally fails, when computed."""

    p_fail: float | None = None
    horizon_days: int | None = None
    model: str | None = None
    n_train: int | None = None
    n_rallies: int | None = None
    brier: float | None = None
    base_brier: float | None = None
    text: str = ""
    analogues: list[Analogue] = Field(default_factory=list)


class AnalysisOut(_Lenient):
    """The rally at one as-of time: verdict, reasons, levels, anatomy."""

    asset: str
    timeframe: str
    as_of: datetime = Field(description="Close of the last bar used (UTC).")
    last_close: float
    status: str
    verdict: str
    confidence: float
    headline: str
    scores: dict[str, float]
    coverage: dict[str, float]
    reasons: list[ReasonOut]
    other_evidence: list[ReasonOut]
    missing: dict[str, str]
    levels: dict[str, float | None]
    anatomy: dict[str, dict[str, float | None]] = Field(
        description="Signal values by group (rallylens.rallies.GROUPS)."
    )
    units: dict[str, str] = Field(description="Unit of each anatomy signal.")
    rally: RallyOut
    failure: FailureOut | None = None
    range: DataRange


class RallyRow(BaseModel):
    """One row of the rallies table (ended rallies are judged at their peak)."""

    rally_id: int
    low_ts: datetime
    low_price: float
    peak_ts: datetime
    peak_price: float | None
    end_ts: datetime | None
    gain_pct: float | None = Field(description="Highest close over the low, in %.")
    days: int = Field(description="Days from the low to the peak.")
    regime: str | None
    status: str
    verdict: str
    score: float | None
    confidence: float | None
    judged_at: datetime = Field(description="Day whose close the verdict used.")


class RalliesOut(BaseModel):
    """Every rally found in the data known at the as-of time."""

    asset: str
    as_of: datetime
    rallies: list[RallyRow]


class FigureOut(BaseModel):
    """One report figure as plotly JSON (``Plotly.react(div, data, layout)``)."""

    name: str
    figure: dict[str, Any]


class FiguresOut(BaseModel):
    """The report figures at one as-of time, in report order."""

    asset: str
    as_of: datetime
    figures: list[FigureOut]


class HitRateOut(_Lenient):
    """Failure rate and forward return of one group of past rallies."""

    by: str
    group: str
    n: int
    n_known: int | None = None
    fail_rate: float | None = None
    fail_lo: float | None = None
    fail_hi: float | None = None
    fwd_30d_median: float | None = None
    fwd_30d_lo: float | None = None
    fwd_30d_hi: float | None = None
    note: str | None = None


class ReliabilityOut(_Lenient):
    """One bin of the reliability diagram of P(fail)."""

    bin_lo: float
    bin_hi: float
    n: int
    mean_p: float | None = None
    observed: float | None = None


class DroppedOut(_Lenient):
    """Events the study could not evaluate, by reason."""

    reason: str
    n: int


class StudyOut(BaseModel):
    """Summary of the event study over past rallies."""

    assets: list[str]
    since: datetime | None
    events: int
    hit_rates: list[HitRateOut]
    reliability: list[ReliabilityOut]
    scores: dict[str, float | None]
    coverage: list[str]
    dropped: list[DroppedOut]


class ErrorOut(BaseModel):
    """Why a request could not be answered."""

    error: str = Field(description="Error class, e.g. UnknownAssetError.")
    detail: str = Field(description="What failed, the offending value, what to try.")
    assets: list[str] | None = Field(
        default=None, description="Assets available (unknown asset only)."
    )
    range: DataRange | None = Field(
        default=None, description="The asset's data range (date outside it only)."
    )
