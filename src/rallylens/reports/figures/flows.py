"""Spot against perp: spot share of volume and cumulative taker CVD."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from rallylens.reports.figures._common import (
    add_note,
    coverage_note,
    has_data,
    set_time_range,
    shade_rally,
    values,
)
from rallylens.reports.theme import COLORS, apply_theme, empty_figure
from rallylens.schemas import PERP_DELTA_USD, SPOT_DELTA_USD, SPOT_SHARE, TS

__all__ = ["cumulative_cvd", "spot_perp_figure"]

_TITLE = "Spot vs perp: volume share and taker CVD"


def cumulative_cvd(daily: pl.DataFrame) -> pl.DataFrame:
    """Cumulative taker delta of spot and perp from the first row.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS: ``ts``, ``spot_delta_usd``, ``perp_delta_usd`` (taker buy
        minus taker sell, USD per day).

    Returns
    -------
    pl.DataFrame
        ``ts``, ``spot_delta_usd`` and ``perp_delta_usd`` cumulated from the
        first row; null on days without a value (they add nothing), so a
        line stops where its data stops.
    """

    def cum(column: str) -> pl.Expr:
        delta = pl.col(column).fill_nan(None)
        total = delta.fill_null(0).cum_sum()
        return pl.when(delta.is_not_null()).then(total).alias(column)

    return daily.select(TS, cum(SPOT_DELTA_USD), cum(PERP_DELTA_USD))


def spot_perp_figure(
    daily: pl.DataFrame,
    rally: Mapping[str, Any],
    *,
    as_of: datetime,
) -> go.Figure:
    """Spot share of base volume (top) and cumulative spot and perp CVD (bottom).

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS of the window shown: ``ts``, ``spot_share`` (fraction of
        base volume traded on spot), ``spot_delta_usd``, ``perp_delta_usd``.
    rally : mapping
        ``low_ts``, ``decline_high_ts``, ``end_ts`` (for the shading).
    as_of : datetime
        Analysis time.

    Returns
    -------
    go.Figure
        Two rows; when one part has no data the figure keeps the other and
        notes what is missing, and a "no spot/perp volume data for this
        period" panel replaces it when neither exists.
    """
    has_share = has_data(daily, SPOT_SHARE)
    has_cvd = has_data(daily, SPOT_DELTA_USD, PERP_DELTA_USD)
    if not has_share and not has_cvd:
        return empty_figure("no spot/perp volume data for this period", title=_TITLE)
    both = has_share and has_cvd
    fig = make_subplots(
        rows=2 if both else 1,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.45, 0.55] if both else [1.0],
    )
    notes = []
    if has_share:
        _add_share(fig, daily)
    else:
        notes.append("no spot and perp volume pair for this period")
    if has_cvd:
        _add_cvd(fig, daily, row=2 if both else 1)
    else:
        notes.append("no taker buy/sell data for this period")
    for row in range(1, 3 if both else 2):
        shade_rally(fig, rally, as_of=as_of, row=row, col=1)
    apply_theme(fig, title=_TITLE, height=440 if both else 340)
    set_time_range(fig, daily, as_of)
    if has_share:
        fig.update_yaxes(title_text="spot share %", ticksuffix="%", row=1)
    if has_cvd:
        row = 2 if both else 1
        fig.update_yaxes(title_text="cumulative USD", tickformat="$,.2s", row=row)
    column = SPOT_DELTA_USD if has_cvd else SPOT_SHARE
    notes.append(coverage_note(daily, column, as_of=as_of, what="flow") or "")
    add_note(fig, "; ".join(n for n in notes if n))
    return fig


def _add_share(fig: go.Figure, daily: pl.DataFrame) -> None:
    share = [None if v is None else v * 100 for v in values(daily, SPOT_SHARE)]
    fig.add_trace(
        go.Scatter(
            x=daily[TS].to_list(),
            y=share,
            mode="lines",
            name="spot share of volume",
            line={"color": COLORS["share"], "width": 1.8},
            hovertemplate="%{y:.1f}%",
        ),
        row=1,
        col=1,
    )


def _add_cvd(fig: go.Figure, daily: pl.DataFrame, *, row: int) -> None:
    cvd = cumulative_cvd(daily)
    for column, name, color in (
        (SPOT_DELTA_USD, "spot CVD", COLORS["spot"]),
        (PERP_DELTA_USD, "perp CVD", COLORS["perp"]),
    ):
        if has_data(cvd, column):
            fig.add_trace(
                go.Scatter(
                    x=cvd[TS].to_list(),
                    y=values(cvd, column),
                    mode="lines",
                    name=name,
                    line={"color": color, "width": 1.8},
                    hovertemplate="%{y:$,.3s}",
                ),
                row=row,
                col=1,
            )
