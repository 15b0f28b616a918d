"""All report figures of one :class:`ReportData`, in display order."""

from __future__ import annotations

from typing import Final

import plotly.graph_objects as go
import polars as pl

from rallylens.reports._data import ReportData
from rallylens.reports.figures import (
    funding_figure,
    gamma_figure,
    hit_rates_figure,
    liquidations_figure,
    open_interest_figure,
    price_figure,
    reliability_figure,
    spot_perp_figure,
    volatility_figure,
)
from rallylens.schemas import TS

__all__ = ["FIGURE_KEYS", "FIGURE_TITLES", "build_figures"]

FIGURE_KEYS: Final = (
    "price",
    "open_interest",
    "funding",
    "liquidations",
    "spot_perp",
    "volatility",
    "gamma",
    "study_hit_rates",
    "study_reliability",
)
"""Keys of :func:`build_figures`, in display order (stable: the web uses them)."""

_NO_EVENTS = "the event study found no rally with a settled outcome"
_NO_SCORES = (
    "no out-of-sample predictions scored yet: the walk-forward model needs "
    "more past rallies with a settled outcome"
)

FIGURE_TITLES: Final[dict[str, str]] = {
    "price": "Price and levels",
    "open_interest": "Open interest",
    "funding": "Funding",
    "liquidations": "Liquidations",
    "spot_perp": "Spot vs perp",
    "volatility": "Volatility and skew",
    "gamma": "Dealer gamma",
    "study_hit_rates": "Event study: hit rates",
    "study_reliability": "Event study: reliability",
}
"""Short section names of the figures (navigation, file names)."""


def build_figures(data: ReportData) -> dict[str, go.Figure]:
    """Every report figure of ``data``, keyed by :data:`FIGURE_KEYS` in order.

    Parameters
    ----------
    data : ReportData
        Output of :func:`load_report_data` or :func:`assemble_report_data`.

    Returns
    -------
    dict[str, go.Figure]
        ``price``, ``open_interest``, ``funding``, ``liquidations``,
        ``spot_perp``, ``volatility``, ``gamma``, ``study_hit_rates``,
        ``study_reliability``. A figure without data is a panel saying why.

    Notes
    -----
    Time series are daily bars from :attr:`ReportData.window_start` (the
    decline's high minus a margin) to the as-of time, whatever the anatomy's
    timeframe, so the HTML stays small.
    """
    daily, start, as_of = data.daily, data.window_start, data.as_of
    shown = daily.filter(pl.col(TS) >= start)
    rally, study = data.rally, data.study
    return {
        "price": price_figure(
            daily,
            rally,
            data.analysis.levels,
            as_of=as_of,
            start=start,
            asset=data.asset,
        ),
        "open_interest": open_interest_figure(
            shown, rally, as_of=as_of, asset=data.asset
        ),
        "funding": funding_figure(daily, rally, as_of=as_of, start=start),
        "liquidations": liquidations_figure(shown, rally, as_of=as_of),
        "spot_perp": spot_perp_figure(shown, rally, as_of=as_of),
        "volatility": volatility_figure(
            daily, data.options, rally, as_of=as_of, start=start
        ),
        "gamma": _gamma(data),
        "study_hit_rates": hit_rates_figure(
            study.hit_rates if study else None,
            empty_message=_NO_EVENTS if study else data.study_note,
        ),
        "study_reliability": reliability_figure(
            study.reliability if study else None,
            scores=study.scores if study else None,
            empty_message=_NO_SCORES if study else data.study_note,
        ),
    }


def _gamma(data: ReportData) -> go.Figure:
    chain = data.chain
    if chain is None:
        return gamma_figure(None, spot=None, empty_message=data.chain_note)
    return gamma_figure(
        chain.by_strike,
        spot=chain.spot,
        gamma_flip=chain.gamma_flip,
        call_wall=chain.call_wall,
        put_wall=chain.put_wall,
        positioning=chain.positioning,
        snapshot_ts=chain.ts,
        empty_message=data.chain_note,
    )
