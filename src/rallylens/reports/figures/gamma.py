"""Dealer gamma exposure by strike with spot, the gamma flip and the walls."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import plotly.graph_objects as go
import polars as pl

from rallylens.reports.figures._common import add_note, has_data, values
from rallylens.reports.theme import COLORS, apply_theme, empty_figure
from rallylens.schemas import STRIKE

__all__ = ["gamma_figure"]

_TITLE = "Dealer gamma exposure by strike (estimate)"
# columns of ChainMetrics.by_strike (rallylens.features.gamma)
CALL_GEX: Final = "call_gex_usd"
PUT_GEX: Final = "put_gex_usd"
NET_GEX: Final = "net_gex_usd"


def gamma_figure(
    by_strike: pl.DataFrame | None,
    *,
    spot: float | None,
    gamma_flip: float | None = None,
    call_wall: float | None = None,
    put_wall: float | None = None,
    positioning: str = "dealer_long_calls_short_puts",
    snapshot_ts: datetime | None = None,
    span: float = 0.35,
    empty_message: str = "no option chain for this period",
) -> go.Figure:
    """GEX per strike as call and put bars with the key strikes marked.

    Parameters
    ----------
    by_strike : pl.DataFrame or None
        ``ChainMetrics.by_strike``: ``strike`` (USD), ``call_gex_usd``,
        ``put_gex_usd``, ``net_gex_usd`` (USD per 1% move, all expiries).
    spot : float or None
        Spot of the snapshot, USD.
    gamma_flip, call_wall, put_wall : float, optional
        Strikes (USD) marked with vertical lines when known.
    positioning : str
        The dealer-positioning assumption behind the GEX (stated on the figure).
    snapshot_ts : datetime, optional
        Time of the chain snapshot (stated on the figure).
    span : float, default 0.35
        Strikes within ``spot * (1 ± span)`` are shown.
    empty_message : str
        Text of the panel shown when there is no chain (say why).

    Returns
    -------
    go.Figure
        Relative bars (call GEX, put GEX) and the net GEX line by strike,
        vertical lines at spot, gamma flip, call wall and put wall, and a note
        that the figures are an estimate under ``positioning``.
    """
    if by_strike is None or spot is None or not has_data(by_strike, NET_GEX):
        return empty_figure(empty_message, title=_TITLE)
    shown = by_strike.filter(
        pl.col(STRIKE).is_between(spot * (1 - span), spot * (1 + span))
    ).sort(STRIKE)
    why = _why_empty(by_strike, shown, spot, span, snapshot_ts)
    if why:
        return empty_figure(why, title=_TITLE)
    fig = go.Figure(_gex_traces(shown))
    _mark_strikes(fig, spot, gamma_flip, call_wall, put_wall)
    apply_theme(fig, title=_TITLE, height=420)
    fig.update_layout(barmode="relative", hovermode="closest", legend_y=-0.22)
    fig.update_xaxes(title_text="strike (USD)", tickformat=",.0f")
    fig.update_yaxes(title_text="USD per 1% move", tickformat="$,.2s")
    when = f"; snapshot {snapshot_ts:%Y-%m-%d %H:%M} UTC" if snapshot_ts else ""
    add_note(
        fig,
        f"estimate, positioning: {positioning.replace('_', ' ')}{when}",
    )
    return fig


def _gex_traces(shown: pl.DataFrame) -> list[go.Bar | go.Scatter]:
    """Call and put GEX bars and the net GEX line, by strike."""
    strikes = shown[STRIKE].to_list()
    hover = "strike %{x:,.0f}: %{y:$,.3s}"
    traces: list[go.Bar | go.Scatter] = [
        go.Bar(
            x=strikes,
            y=values(shown, column),
            name=name,
            marker={"color": color},
            hovertemplate=hover,
        )
        for column, name, color in (
            (CALL_GEX, "call GEX", COLORS["call"]),
            (PUT_GEX, "put GEX", COLORS["put"]),
        )
    ]
    traces.append(
        go.Scatter(
            x=strikes,
            y=values(shown, NET_GEX),
            mode="lines+markers",
            name="net GEX",
            line={"color": COLORS["net"], "width": 1.2},
            marker={"size": 4},
            hovertemplate=hover,
        )
    )
    return traces


def _why_empty(
    by_strike: pl.DataFrame,
    shown: pl.DataFrame,
    spot: float,
    span: float,
    snapshot_ts: datetime | None,
) -> str | None:
    """Why a chain with rows still gives nothing to draw, or None."""
    total = by_strike.select(pl.col(CALL_GEX, PUT_GEX).abs().sum()).sum_horizontal()
    if total[0] == 0:
        when = f" of {snapshot_ts:%Y-%m-%d %H:%M} UTC" if snapshot_ts else ""
        return (
            f"the option chain snapshot{when} holds no open interest: "
            "no gamma exposure to estimate"
        )
    if shown.is_empty():
        return f"no strikes within {span:.0%} of spot {spot:,.0f}"
    return None


def _mark_strikes(
    fig: go.Figure,
    spot: float,
    gamma_flip: float | None,
    call_wall: float | None,
    put_wall: float | None,
) -> None:
    marks = (
        (spot, "spot", COLORS["spot_line"], "solid", "top"),
        (gamma_flip, "gamma flip", COLORS["flip"], "dash", "bottom"),
        (call_wall, "call wall", COLORS["call_wall"], "dot", "top"),
        (put_wall, "put wall", COLORS["put_wall"], "dot", "bottom"),
    )
    for value, label, color, dash, where in marks:
        if value is None or value != value:
            continue
        fig.add_vline(
            x=value,
            line={"color": color, "dash": dash, "width": 1.5},
            annotation_text=f"{label} {value:,.0f}",
            annotation_position=f"{where} right",
            annotation_font={"size": 11, "color": color},
        )
