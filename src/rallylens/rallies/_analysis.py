"""From feature bars to rallies with verdicts: the rally stage's entry points."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from rallylens._typing import RallyKind, RallyStatus
from rallylens.exceptions import InsufficientDataError
from rallylens.features import to_daily
from rallylens.rallies._anatomy import AnatomySpec, compute_anatomies
from rallylens.rallies._detect import DetectSpec, detect_rallies
from rallylens.rallies._regime import RegimeSpec
from rallylens.rallies._signals import GROUPS, Signal
from rallylens.rallies._verdict import (
    CONFIDENCE,
    DEFAULT_SPEC,
    VERDICT,
    Explanation,
    VerdictSpec,
    explain_verdict,
    score_verdicts,
    why_missing,
)
from rallylens.schemas import (
    AS_OF,
    ASSET,
    CLOSE,
    PEAK_TS,
    RALLIES,
    RALLY_ID,
    STATUS,
    TS,
)

__all__ = ["RallyAnalysis", "RallySpecs", "analyze_rally", "find_rallies"]


@dataclass(frozen=True)
class RallySpecs:
    """Every parameter of detection, anatomy and verdict in one place."""

    detect: DetectSpec = field(default_factory=DetectSpec)
    regime: RegimeSpec = field(default_factory=RegimeSpec)
    anatomy: AnatomySpec = field(default_factory=AnatomySpec)
    verdict: VerdictSpec = DEFAULT_SPEC


def _anatomy_cut(rallies: pl.DataFrame) -> pl.DataFrame:
    """An ended rally is judged as of its peak day; one in progress as of now."""
    return rallies.with_columns(
        pl.when(pl.col(STATUS) == RallyStatus.ENDED.value)
        .then(pl.col(PEAK_TS))
        .otherwise(pl.col(AS_OF))
        .alias(AS_OF)
    )


def find_rallies(bars: pl.DataFrame, specs: RallySpecs | None = None) -> pl.DataFrame:
    """Every rally in ``bars`` with its anatomy and verdict.

    Parameters
    ----------
    bars : pl.DataFrame
        Schema BARS (one or more assets, any regular timeframe), sorted by
        ``asset, ts``; the last bar is the as-of time.
    specs : RallySpecs, optional
        Parameters.

    Returns
    -------
    pl.DataFrame
        Schema RALLIES (``as_of`` = the day each anatomy was taken: the peak
        of an ended rally, the last day for one in progress), the anatomy
        signals, ``score_*``/``coverage_*``, ``verdict`` and ``confidence``.
    """
    specs = specs or RallySpecs()
    daily = to_daily(bars)
    rallies = _anatomy_cut(
        detect_rallies(daily, specs.detect, regime_spec=specs.regime)
    )
    anatomies = compute_anatomies(bars, daily, rallies, specs.anatomy)
    verdicts = score_verdicts(anatomies, specs.verdict)
    return rallies.join(anatomies, on=[ASSET, RALLY_ID], how="left").join(
        verdicts, on=[ASSET, RALLY_ID], how="left"
    )


@dataclass(frozen=True)
class RallyAnalysis:
    """One rally judged at one time: anatomy, verdict, reasons, levels."""

    asset: str
    as_of: datetime
    last_close: float
    in_progress: bool
    rally: dict[str, Any]
    anatomy: dict[str, float | None]
    scores: dict[str, float]
    coverage: dict[str, float]
    verdict: RallyKind
    confidence: float
    explanation: Explanation
    levels: dict[str, float | None]
    missing: dict[str, str] = field(default_factory=dict)
    failure: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (datetimes as ISO strings)."""
        out: dict[str, Any] = _jsonable(
            {
                "asset": self.asset,
                "as_of": self.as_of,
                "last_close": self.last_close,
                "status": self.rally[STATUS],
                "rally": self.rally,
                "verdict": self.verdict.value,
                "confidence": self.confidence,
                "scores": self.scores,
                "coverage": self.coverage,
                "headline": self.explanation.headline,
                "reasons": [asdict(r) for r in self.explanation.reasons],
                "other_evidence": [asdict(r) for r in self.explanation.against],
                "missing": self.missing,
                "levels": self.levels,
                "failure": self.failure,
                "anatomy": {
                    group: {s.value: self.anatomy.get(s.value) for s in signals}
                    for group, signals in GROUPS.items()
                },
            }
        )
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, RallyKind):
        return value.value
    if isinstance(value, float) and value != value:
        return None
    return value


def analyze_rally(
    bars: pl.DataFrame,
    *,
    as_of: datetime | None = None,
    specs: RallySpecs | None = None,
    missing_sources: Mapping[str, str] | None = None,
) -> RallyAnalysis:
    """Judge the rally in progress at ``as_of`` (else the latest one).

    Parameters
    ----------
    bars : pl.DataFrame
        Schema BARS of one asset, sorted by ``ts``.
    as_of : datetime, optional
        Only bars that closed by then are used; default: all of ``bars``.
    specs : RallySpecs, optional
        Parameters.
    missing_sources : mapping, optional
        ``Panel.missing``: why whole column groups are absent.

    Raises
    ------
    InsufficientDataError
        If there are no bars before ``as_of`` or no rally has been seen yet.
    """
    specs = specs or RallySpecs()
    if as_of is not None:
        step = _step(bars)
        bars = bars.filter(pl.col(TS) + step <= as_of)
    if bars.is_empty():
        raise InsufficientDataError(
            "no price bars before the as-of time; import or fetch prices first"
        )
    table = find_rallies(bars, specs)
    asset = str(bars[ASSET][0])
    if table.is_empty():
        raise InsufficientDataError(
            f"no rally of {asset} found in {bars.height} bars: price never rose "
            "by the detection threshold from a swing low"
        )
    row = table.row(table.height - 1, named=True)
    verdict = RallyKind(row[VERDICT])
    anatomy = {s.value: _float(row.get(s.value)) for s in Signal}
    explanation = explain_verdict(
        anatomy, verdict, specs.verdict, missing_sources=missing_sources
    )
    kinds = (RallyKind.BEAR_MARKET_RALLY, RallyKind.SPOT_LED, RallyKind.LEVERAGED_LONG)
    missing = dict(explanation.missing)
    for signal in Signal:
        if anatomy[signal.value] is None and signal.value not in missing:
            missing[signal.value] = why_missing(signal, missing_sources or {})
    return RallyAnalysis(
        asset=asset,
        as_of=bars[TS][-1] + _step(bars),
        last_close=float(bars[CLOSE][-1]),
        in_progress=row[STATUS] == RallyStatus.IN_PROGRESS.value,
        rally={c: row[c] for c in RALLIES.columns},
        anatomy=anatomy,
        scores={k.value: float(row[f"score_{k.value}"]) for k in kinds},
        coverage={k.value: float(row[f"coverage_{k.value}"]) for k in kinds},
        verdict=verdict,
        confidence=float(row[CONFIDENCE]),
        explanation=explanation,
        levels={
            "resistance_above": anatomy[Signal.RESISTANCE.value],
            "vwap_decline_high": anatomy[Signal.VWAP_DECLINE.value],
            "vwap_rally_low": anatomy[Signal.VWAP_RALLY.value],
            "invalidation_below": anatomy[Signal.INVALIDATION.value],
        },
        missing=missing,
    )


def _float(value: object) -> float | None:
    if value is None:
        return None
    out = float(value)  # type: ignore[arg-type]
    return None if out != out else out


def _step(bars: pl.DataFrame) -> timedelta:
    if bars.height < 2:
        return timedelta(days=1)
    step = bars.select(pl.col(TS).diff().drop_nulls().min()).item()
    return step if isinstance(step, timedelta) else timedelta(days=1)
