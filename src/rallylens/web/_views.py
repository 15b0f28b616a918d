"""Library results as the API's response models (pure conversions).

JSON has no NaN or infinity: every non-finite float becomes ``null`` here,
so a response never fails to serialise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from rallylens._typing import RallyKind
from rallylens.rallies import (
    CONFIDENCE,
    UNITS,
    VERDICT,
    RallyAnalysis,
    Signal,
    score_column,
)
from rallylens.schemas import (
    AS_OF,
    END_TS,
    LOW_PRICE,
    LOW_TS,
    PEAK_PRICE,
    PEAK_TS,
    RALLY_ID,
    REGIME,
    STATUS,
)
from rallylens.web._assets import AssetData
from rallylens.web._models import (
    AnalysisOut,
    AssetOut,
    DataRange,
    RalliesOut,
    RallyRow,
    StudyOut,
)

if TYPE_CHECKING:
    from rallylens.study import StudyResult

__all__ = ["analysis_out", "asset_out", "rallies_out", "range_out", "study_out"]

_KINDS = (RallyKind.BEAR_MARKET_RALLY, RallyKind.SPOT_LED, RallyKind.LEVERAGED_LONG)


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth) set to None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts, non-finite floats as None."""
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    clean = frame.with_columns(
        pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c) for c in floats
    )
    return clean.to_dicts()


def range_out(data: AssetData) -> DataRange:
    """The as-of range of an asset's data."""
    return DataRange(
        first=data.first,
        last=data.last,
        first_date=data.first_date,
        last_date=data.last_date,
    )


def asset_out(data: AssetData) -> AssetOut:
    """One asset of the store."""
    return AssetOut(
        asset=data.asset,
        timeframe=data.timeframe,
        bars=data.bars.height,
        range=range_out(data),
        missing=data.missing,
    )


def analysis_out(data: AssetData, result: RallyAnalysis) -> AnalysisOut:
    """:meth:`RallyAnalysis.to_dict` plus timeframe, units, range and failure."""
    out = result.to_dict()
    failure = out.get("failure", getattr(result, "failure", None))
    out.update(
        timeframe=data.timeframe,
        units={s.value: UNITS[s] for s in Signal if s in UNITS},
        range=range_out(data).model_dump(),
        failure=failure,
    )
    return AnalysisOut.model_validate(finite(out))


def rallies_out(asset: str, as_of: datetime, table: pl.DataFrame) -> RalliesOut:
    """The rallies table: one row per rally, newest last."""
    score = pl.max_horizontal(*(pl.col(score_column(k)) for k in _KINDS))
    rows = table.select(
        pl.col(RALLY_ID),
        pl.col(LOW_TS),
        pl.col(LOW_PRICE),
        pl.col(PEAK_TS),
        pl.col(PEAK_PRICE),
        pl.col(END_TS),
        (pl.col(Signal.MAX_GAIN.value) * 100).alias("gain_pct"),
        (pl.col(PEAK_TS) - pl.col(LOW_TS)).dt.total_days().alias("days"),
        pl.col(REGIME),
        pl.col(STATUS),
        pl.col(VERDICT),
        score.alias("score"),
        pl.col(CONFIDENCE),
        pl.col(AS_OF).alias("judged_at"),
    )
    return RalliesOut(
        asset=asset,
        as_of=as_of,
        rallies=[RallyRow.model_validate(r) for r in records(rows)],
    )


def study_out(
    assets: Sequence[str], since: datetime | None, result: StudyResult
) -> StudyOut:
    """Summary of an event study: hit rates, reliability, scores, coverage."""
    scores = finite({str(k): _number(v) for k, v in result.scores.items()})
    return StudyOut.model_validate(
        {
            "assets": list(assets),
            "since": since,
            "events": result.events.height,
            "hit_rates": records(result.hit_rates),
            "reliability": records(result.reliability),
            "scores": scores,
            "coverage": [str(line) for line in result.coverage],
            "dropped": records(result.dropped),
        }
    )


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
