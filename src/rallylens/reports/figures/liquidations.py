"""Long and short liquidations as opposite bars."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import polars as pl

from rallylens.reports.figures._common import (
    add_note,
    coverage_note,
    has_data,
    set_time_range,
    shade_rally,
    values,
)
from rallylens.reports.theme import COLORS, apply_theme, empty_figure
from rallylens.schemas import LIQ_LONG_USD, LIQ_SHORT_USD, TS

__all__ = ["liquidations_figure"]

_TITLE = "Liquidations (USD per day)"


def liquidations_figure(
    daily: pl.DataFrame,
    rally: Mapping[str, Any],
    *,
    as_of: datetime,
) -> go.Figure:
    """Shorts liquidated as bars up, longs liquidated as bars down.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS of the window shown: ``ts``, ``liq_long_usd`` and
        ``liq_short_usd`` (USD liquidated that day).
    rally : mapping
        ``low_ts``, ``decline_high_ts``, ``end_ts`` (for the shading).
    as_of : datetime
        Analysis time.

    Returns
    -------
    go.Figure
        Relative bars (shorts positive, longs negative); a "no liquidation
        data for this period" panel when neither column has a value.
    """
    if not has_data(daily, LIQ_LONG_USD, LIQ_SHORT_USD):
        return empty_figure("no liquidation data for this period", title=_TITLE)
    x = daily[TS].to_list()
    longs = [None if v is None else -v for v in values(daily, LIQ_LONG_USD)]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=values(daily, LIQ_SHORT_USD),
            name="shorts liquidated",
            marker={"color": COLORS["liq_short"]},
            hovertemplate="%{y:$,.3s}",
        )
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=longs,
            name="longs liquidated (shown negative)",
            marker={"color": COLORS["liq_long"]},
            hovertemplate="%{y:$,.3s}",
        )
    )
    shade_rally(fig, rally, as_of=as_of)
    apply_theme(fig, title=_TITLE)
    set_time_range(fig, daily, as_of)
    fig.update_layout(barmode="relative")
    fig.update_yaxes(title_text="USD", tickformat="$,.2s")
    column = LIQ_SHORT_USD if has_data(daily, LIQ_SHORT_USD) else LIQ_LONG_USD
    add_note(fig, coverage_note(daily, column, as_of=as_of, what="liquidation"))
    return fig
