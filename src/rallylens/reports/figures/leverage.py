"""Open interest through the rally, with the short-covering days highlighted."""

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
from rallylens.schemas import CLOSE, OI_BASE_EST, TS

__all__ = ["SHORT_COVERING", "oi_changes", "open_interest_figure"]

_TITLE = "Open interest"
_OI_CHANGE = "oi_change"
SHORT_COVERING = "short_covering"
"""Boolean column of :func:`oi_changes`: price rose while OI fell."""


def oi_changes(daily: pl.DataFrame) -> pl.DataFrame:
    """Daily OI change and whether the day was short covering.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS: ``ts``, ``close`` (USD), ``oi_base_est`` (base asset).

    Returns
    -------
    pl.DataFrame
        ``ts``, ``oi_base_est``, ``oi_change`` (fraction vs the previous
        day) and ``short_covering`` (close up and OI down; null without OI).
    """
    oi = pl.col(OI_BASE_EST).fill_nan(None)
    return daily.select(
        TS,
        oi.alias(OI_BASE_EST),
        (oi / oi.shift(1) - 1).alias(_OI_CHANGE),
        ((pl.col(CLOSE).diff() > 0) & (oi.diff() < 0)).alias(SHORT_COVERING),
    )


def open_interest_figure(
    daily: pl.DataFrame,
    rally: Mapping[str, Any],
    *,
    as_of: datetime,
    asset: str = "",
) -> go.Figure:
    """OI line over the window and daily OI changes, short covering highlighted.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS of the window shown: ``ts``, ``close`` (USD),
        ``oi_base_est`` (open interest in base-asset units).
    rally : mapping
        ``low_ts``, ``decline_high_ts``, ``end_ts`` (for the shading).
    as_of : datetime
        Analysis time (end of a rally in progress).
    asset : str, optional
        Unit label (``BTC``).

    Returns
    -------
    go.Figure
        Top: open interest (base units). Bottom: daily OI change, bars
        coloured where OI fell while price rose (short covering). A "no OI
        data for this period" panel when the window holds no OI.
    """
    if not has_data(daily, OI_BASE_EST):
        return empty_figure("no OI data for this period", title=_TITLE)
    table = oi_changes(daily)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.04
    )
    fig.add_trace(
        go.Scatter(
            x=table[TS].to_list(),
            y=values(table, OI_BASE_EST),
            mode="lines",
            name=f"open interest ({asset or 'base units'})",
            line={"color": COLORS["oi"], "width": 1.8},
            hovertemplate="%{y:,.0f}",
        ),
        row=1,
        col=1,
    )
    _add_change_bars(fig, table)
    for row in (1, 2):
        shade_rally(fig, rally, as_of=as_of, row=row, col=1)
    apply_theme(fig, title=_TITLE, height=440)
    set_time_range(fig, daily, as_of)
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(title_text=asset or "base units", tickformat=",.3s", row=1)
    fig.update_yaxes(title_text="daily change %", row=2)
    add_note(fig, coverage_note(daily, OI_BASE_EST, as_of=as_of, what="OI"))
    return fig


def _add_change_bars(fig: go.Figure, table: pl.DataFrame) -> None:
    """Daily OI change in percent, short-covering days in their own colour."""
    covering = table[SHORT_COVERING].fill_null(False)
    for label, mask, color in (
        ("short covering (price up, OI down)", covering, COLORS["short_covering"]),
        ("other days", ~covering, COLORS["other_bars"]),
    ):
        part = table.filter(mask)
        fig.add_trace(
            go.Bar(
                x=part[TS].to_list(),
                y=[None if v is None else v * 100 for v in values(part, _OI_CHANGE)],
                name=label,
                marker={"color": color},
                hovertemplate="%{y:+.2f}%",
            ),
            row=2,
            col=1,
        )
