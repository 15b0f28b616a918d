"""The report's figures for the dashboard, from the cached bars.

The figures are :func:`rallylens.reports.build_figures` of a
:class:`rallylens.reports.ReportData` assembled here from what the dashboard
already holds (the cached analysis and rallies of the as-of time, the
asset's option snapshots and the study when it is available), so an as-of
change does not read the store or repeat the analysis. The JSON text of the
figures is written once by plotly and sent as is.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from rallylens.features import chain_metrics
from rallylens.schemas import TS
from rallylens.web._assets import AssetData, StudyUnavailableError
from rallylens.web._service import Dashboard

if TYPE_CHECKING:
    from rallylens.features import ChainMetrics
    from rallylens.reports import ReportData

__all__ = ["figures_json", "report_data"]


def _reports() -> Any:
    """The reports package, or a clear error when it is not installed."""
    try:
        import rallylens.reports as reports
    except ImportError as exc:
        raise StudyUnavailableError(
            f"the report figures are not available in this installation ({exc})",
            installed=False,
        ) from exc
    return reports


def _latest_chain(
    dashboard: Dashboard, data: AssetData, as_of: datetime, max_age: Any
) -> tuple[ChainMetrics | None, str]:
    """Metrics of the newest chain snapshot taken by ``as_of`` if recent."""
    if data.chains.is_empty():
        return None, "no option chain snapshots stored for this asset"
    snapshot, note = _reports().recent_chain(data.chains, as_of, max_age)
    if snapshot is None:
        return None, note
    metrics = dashboard.cached(
        ("chain", data.asset, snapshot[TS][0]), lambda: chain_metrics(snapshot)
    )
    return metrics, note


def _study(dashboard: Dashboard) -> tuple[Any, str]:
    """The study over every asset when it can be computed, else None and why."""
    try:
        names, _, result = dashboard.study([], None)
    except StudyUnavailableError as exc:
        return None, str(exc)
    return result, f"event study over the stored history of {', '.join(names)}"


def report_data(dashboard: Dashboard, asset: str, at: str | None) -> ReportData:
    """The report's data at one as-of time, from the dashboard's caches."""
    reports = _reports()
    data, analysis = dashboard.analyze(asset, at)
    _, _, rallies = dashboard.rallies(asset, at)
    chain, chain_note = _latest_chain(
        dashboard, data, analysis.as_of, reports.CHAIN_MAX_AGE
    )
    study, study_note = _study(dashboard)
    report: ReportData = reports.ReportData(
        asset=data.asset,
        as_of=analysis.as_of,
        timeframe=data.timeframe,
        analysis=analysis,
        bars=data.known_at(analysis.as_of),
        rallies=rallies,
        options=data.snapshots.filter(pl.col(TS) <= analysis.as_of),
        chain=chain,
        chain_note=chain_note,
        missing_sources=data.missing,
        study=study,
        study_note=study_note,
    )
    return report


def figures_json(dashboard: Dashboard, asset: str, at: str | None) -> str:
    """The ``/api/figures`` body: ``{"asset", "as_of", "figures": [...]}``.

    Each figure is ``{"name": key, "figure": plotly JSON}`` in the order of
    :func:`rallylens.reports.build_figures`.
    """
    data, as_of = dashboard.resolve(asset, at)

    def build() -> str:
        report = report_data(dashboard, asset, at)
        figures = _reports().build_figures(report)
        parts = [
            f'{{"name": {json.dumps(name)}, "figure": {figure.to_json()}}}'
            for name, figure in figures.items()
        ]
        head = json.dumps({"asset": data.asset, "as_of": report.as_of.isoformat()})
        return head[:-1] + ', "figures": [' + ", ".join(parts) + "]}"

    text: str = dashboard.cached(("figures", data.asset, as_of), build)
    return text
