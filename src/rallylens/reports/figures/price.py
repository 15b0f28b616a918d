"""Price around the rally: candles, the decline and rally windows, levels, profile."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from rallylens.rallies import AnatomySpec
from rallylens.reports.figures._common import has_data, rally_span, shade_rally, values
from rallylens.reports.figures._levels import (
    LEVEL,
    PROFILE_HI,
    PROFILE_LO,
    VWAP,
    anchored_vwap,
    fib_levels,
    support_levels,
    volume_profile,
)
from rallylens.reports.theme import COLORS, apply_theme, empty_figure
from rallylens.schemas import (
    CLOSE,
    DECLINE_HIGH,
    HIGH,
    LOW,
    LOW_PRICE,
    OPEN,
    TS,
    VOLUME,
)

__all__ = ["price_figure"]

_TITLE = "Price, the prior decline and the rally"
_PROFILE_BINS = 24


def price_figure(
    daily: pl.DataFrame,
    rally: Mapping[str, Any],
    levels: Mapping[str, float | None],
    *,
    as_of: datetime,
    start: datetime | None = None,
    asset: str = "",
) -> go.Figure:
    """Daily candles with the rally's levels and the volume profile on the side.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS up to the as-of day: ``ts``, ``open``, ``high``, ``low``,
        ``close`` (USD), ``volume`` (base asset). Rows before ``start`` are
        used for the levels only (supports form before the decline).
    rally : mapping
        The rally (``RallyAnalysis.rally``): ``low_ts``, ``low_price``,
        ``decline_high_ts``, ``decline_high``, ``end_ts``.
    levels : mapping
        ``RallyAnalysis.levels``: ``resistance_above``, ``vwap_decline_high``,
        ``vwap_rally_low``, ``invalidation_below`` (USD or None).
    as_of : datetime
        End of the rally window when it is still in progress.
    start : datetime, optional
        First day shown (default: the first row).
    asset : str, optional
        Asset name for the title.

    Returns
    -------
    go.Figure
        Candles (shaded: prior decline red, rally green), support turned
        resistance (dotted; the nearest above the close bold), Fibonacci
        retracements of the decline, VWAPs anchored at the decline's high and
        the rally's low, the invalidation level, and on the right the volume
        by price of the decline and of the rally (high-volume nodes of the
        decline outlined). A "no price data" panel when there is no close.
    """
    title = f"{asset} {_TITLE}".strip()
    shown = daily if start is None else daily.filter(pl.col(TS) >= start)
    if not has_data(shown, CLOSE):
        return empty_figure("no price data for this period", title=title)
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.84, 0.16],
        horizontal_spacing=0.01,
    )
    fig.add_trace(
        go.Candlestick(
            x=shown[TS].to_list(),
            open=values(shown, OPEN),
            high=values(shown, HIGH),
            low=values(shown, LOW),
            close=values(shown, CLOSE),
            name=f"{asset} daily".strip(),
            increasing={"line": {"color": COLORS["up"]}},
            decreasing={"line": {"color": COLORS["down"]}},
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    shade_rally(fig, rally, as_of=as_of, row=1, col=1, labels=True)
    first = shown[TS][0]
    _add_supports(fig, daily, rally, levels, as_of=as_of, start=first)
    _add_fibs(fig, rally, as_of=as_of, start=first)
    _add_vwaps(fig, daily, rally, as_of=as_of)
    _add_invalidation(fig, levels, start=first, as_of=as_of)
    _add_profile(fig, shown, rally, as_of=as_of)
    apply_theme(fig, title=title, height=600)
    fig.update_layout(hovermode="closest", barmode="stack")
    fig.update_xaxes(rangeslider_visible=False, range=[first, as_of], row=1, col=1)
    fig.update_xaxes(showticklabels=False, title_text="volume by price", row=1, col=2)
    fig.update_yaxes(title_text="USD", tickformat=",.0f", row=1, col=1)
    return fig


def _segments(
    rows: list[tuple[Any, float]], end: datetime
) -> tuple[list[Any], list[Any]]:
    """One scatter trace for many horizontal segments (None breaks the line)."""
    xs: list[Any] = []
    ys: list[Any] = []
    for x0, level in rows:
        xs += [x0, end, None]
        ys += [level, level, None]
    return xs, ys


def _level_trace(
    rows: list[tuple[Any, float]],
    end: datetime,
    *,
    name: str,
    color: str,
    dash: str,
    width: float = 1.2,
) -> go.Scatter:
    xs, ys = _segments(rows, end)
    return go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        name=name,
        line={"color": color, "dash": dash, "width": width},
        hovertemplate="%{y:,.0f}<extra>" + name + "</extra>",
    )


def _add_supports(
    fig: go.Figure,
    daily: pl.DataFrame,
    rally: Mapping[str, Any],
    levels: Mapping[str, float | None],
    *,
    as_of: datetime,
    start: datetime,
) -> None:
    found = support_levels(daily, rally, spec=AnatomySpec())
    resistance = levels.get("resistance_above")
    rows = [
        (max(ts, start), level)
        for ts, level in found.select(TS, LEVEL).iter_rows()
        if resistance is None or abs(level / resistance - 1) > 1e-9
    ]
    if rows:
        fig.add_trace(
            _level_trace(
                rows,
                as_of,
                name="support turned resistance",
                color=COLORS["support"],
                dash="dot",
            ),
            row=1,
            col=1,
        )
    if resistance is not None:
        match = found.filter((pl.col(LEVEL) / resistance - 1).abs() <= 1e-9)
        x0 = max(match[TS][0], start) if match.height else start
        fig.add_trace(
            _level_trace(
                [(x0, resistance)],
                as_of,
                name=f"resistance above {resistance:,.0f}",
                color=COLORS["resistance"],
                dash="solid",
                width=2.0,
            ),
            row=1,
            col=1,
        )


def _add_fibs(
    fig: go.Figure, rally: Mapping[str, Any], *, as_of: datetime, start: datetime
) -> None:
    low, high = rally.get(LOW_PRICE), rally.get(DECLINE_HIGH)
    high_ts, _, _ = rally_span(rally, as_of)
    if low is None or high is None:
        return
    x0 = max(high_ts, start) if high_ts is not None else start
    fibs = fib_levels(float(low), float(high))
    fig.add_trace(
        _level_trace(
            [(x0, price) for _, price in fibs],
            as_of,
            name="Fibonacci retracements of the decline",
            color=COLORS["fib"],
            dash="dash",
            width=1.0,
        ),
        row=1,
        col=1,
    )
    for fraction, price in fibs:
        fig.add_annotation(
            x=x0,
            y=price,
            text=f"{fraction * 100:.1f}%",
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"size": 10, "color": COLORS["fib"]},
            row=1,
            col=1,
        )


def _add_vwaps(
    fig: go.Figure, daily: pl.DataFrame, rally: Mapping[str, Any], *, as_of: datetime
) -> None:
    high_ts, low_ts, _ = rally_span(rally, as_of)
    for anchor, label, color in (
        (high_ts, "VWAP from the decline's high", COLORS["vwap_decline"]),
        (low_ts, "VWAP from the rally's low", COLORS["vwap_rally"]),
    ):
        if anchor is None:
            continue
        curve = anchored_vwap(daily, anchor)
        if not has_data(curve, VWAP):
            continue
        last = curve[VWAP].drop_nulls()[-1]
        fig.add_trace(
            go.Scatter(
                x=curve[TS].to_list(),
                y=values(curve, VWAP),
                mode="lines",
                name=f"{label} ({last:,.0f})",
                line={"color": color, "width": 1.6},
                hovertemplate="%{y:,.0f}<extra>" + label + "</extra>",
            ),
            row=1,
            col=1,
        )


def _add_invalidation(
    fig: go.Figure,
    levels: Mapping[str, float | None],
    *,
    start: datetime,
    as_of: datetime,
) -> None:
    level = levels.get("invalidation_below")
    if level is None:
        return
    fig.add_trace(
        _level_trace(
            [(start, level)],
            as_of,
            name=f"invalidation (rally low) {level:,.0f}",
            color=COLORS["invalidation"],
            dash="longdash",
        ),
        row=1,
        col=1,
    )


def _add_profile(
    fig: go.Figure, shown: pl.DataFrame, rally: Mapping[str, Any], *, as_of: datetime
) -> None:
    """Volume by price of the decline and of the rally, stacked, on the right."""
    high_ts, low_ts, end = rally_span(rally, as_of)
    price_lo, price_hi = shown[LOW].min(), shown[HIGH].max()
    if not isinstance(price_lo, float) or not isinstance(price_hi, float):
        return
    parts = []
    if high_ts is not None and low_ts is not None:
        parts.append(("decline", high_ts, low_ts, COLORS["profile_decline"]))
    if low_ts is not None:
        parts.append(("rally", low_ts, end, COLORS["profile_rally"]))
    for name, t0, t1, color in parts:
        profile = volume_profile(
            shown,
            start=t0,
            end=t1,
            price_lo=price_lo,
            price_hi=price_hi,
            bins=_PROFILE_BINS,
        )
        if not has_data(profile.filter(pl.col(VOLUME) > 0), VOLUME):
            continue
        fig.add_trace(_profile_trace(profile, name, color), row=1, col=2)


def _profile_trace(profile: pl.DataFrame, name: str, color: str) -> go.Bar:
    mid = ((profile[PROFILE_LO] + profile[PROFILE_HI]) / 2).to_list()
    width = float(profile[PROFILE_HI][0] - profile[PROFILE_LO][0])
    volume = profile[VOLUME]
    mean = float(volume.mean() or 0.0)  # type: ignore[arg-type]
    factor = AnatomySpec().hvn_factor
    hvn = volume >= factor * mean if name == "decline" else volume < 0
    return go.Bar(
        x=volume.to_list(),
        y=mid,
        width=width * 0.95,
        orientation="h",
        name=f"{name} volume by price",
        marker={
            "color": color,
            "line": {
                "color": [COLORS["hvn"] if h else color for h in hvn.to_list()],
                "width": 1.2,
            },
        },
        hovertemplate="%{y:,.0f}: %{x:,.0f}<extra>" + name + "</extra>",
    )
