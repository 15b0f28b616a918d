"""Implied volatility (DVOL, 30-day ATM IV) and the 25-delta risk reversal."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from rallylens.reports.figures._common import (
    add_note,
    has_data,
    set_time_range,
    shade_rally,
    values,
)
from rallylens.reports.theme import COLORS, apply_theme, empty_figure
from rallylens.schemas import DVOL, LOG_RETURN, OPT_ATM_IV, OPT_RR25, TS

__all__ = ["RV_DAYS", "realized_vol", "volatility_figure"]

_TITLE = "Volatility: DVOL, 30-day ATM IV and 25-delta skew"
RV_DAYS = 14
"""Window of the realised volatility drawn for reference (the anatomy's)."""
_RV = "realized_vol"


def realized_vol(daily: pl.DataFrame, *, window_days: int = RV_DAYS) -> pl.DataFrame:
    """Trailing annualised realised volatility of daily log returns.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS: ``ts`` and ``log_return``, sorted.
    window_days : int, default 14
        Days in the window (current day included).

    Returns
    -------
    pl.DataFrame
        ``ts`` and ``realized_vol`` (decimal per year):
        ``std(log_return) * sqrt(365)``, null until the window is full.
    """
    std = pl.col(LOG_RETURN).fill_nan(None).rolling_std(window_days)
    return daily.select(TS, (std * math.sqrt(365)).alias(_RV))


def _pct(frame: pl.DataFrame, column: str) -> list[float | None]:
    return [None if v is None else v * 100 for v in values(frame, column)]


def volatility_figure(
    daily: pl.DataFrame,
    options: pl.DataFrame | None,
    rally: Mapping[str, Any],
    *,
    as_of: datetime,
    start: datetime | None = None,
) -> go.Figure:
    """DVOL, 30-day ATM IV of the stored chains, realised vol, and the skew.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS: ``ts``, ``dvol`` (decimal per year), ``log_return``;
        rows before ``start`` feed the realised-vol window only.
    options : pl.DataFrame or None
        Per chain snapshot (``rallylens.features.option_snapshots``): ``ts``,
        ``opt_atm_iv_30d`` and ``opt_rr25_30d`` (decimals); None or empty when
        no chain is stored.
    rally : mapping
        ``low_ts``, ``decline_high_ts``, ``end_ts`` (for the shading).
    as_of : datetime
        Analysis time.
    start : datetime, optional
        First day shown.

    Returns
    -------
    go.Figure
        Top: DVOL, ATM IV (markers: one per snapshot) and realised vol in
        percent. Bottom (only when a snapshot falls in the window): the 30-day
        25-delta risk reversal in vol points. Without DVOL or chains, realised
        vol alone with a note; a "no volatility data" panel without prices.
    """
    rv = realized_vol(daily)
    shown = daily if start is None else daily.filter(pl.col(TS) >= start)
    rv = rv.filter(pl.col(TS) >= shown[TS][0]) if shown.height else rv.clear()
    snaps = _snapshots_in(options, shown, as_of)
    has_skew = has_data(snaps, OPT_RR25)
    if not has_data(shown, DVOL) and not has_data(snaps, OPT_ATM_IV, OPT_RR25):
        if not has_data(rv, _RV):
            return empty_figure("no volatility data for this period", title=_TITLE)
    rows = 2 if has_skew else 1
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.65, 0.35] if has_skew else [1.0],
    )
    _add_vol_lines(fig, shown, rv, snaps)
    if has_skew:
        _add_skew(fig, snaps)
    for row in range(1, rows + 1):
        shade_rally(fig, rally, as_of=as_of, row=row, col=1)
    apply_theme(fig, title=_TITLE, height=440 if has_skew else 380)
    set_time_range(fig, shown, as_of)
    fig.update_yaxes(title_text="% per year", ticksuffix="%", row=1)
    if not has_data(shown, DVOL) and not has_data(snaps, OPT_ATM_IV):
        add_note(fig, "no DVOL or option-chain implied vol here: realised vol only")
    return fig


def _snapshots_in(
    options: pl.DataFrame | None, shown: pl.DataFrame, as_of: datetime
) -> pl.DataFrame:
    if options is None or options.is_empty() or shown.is_empty():
        return pl.DataFrame(
            schema={TS: shown.schema[TS], OPT_ATM_IV: pl.Float64, OPT_RR25: pl.Float64}
        )
    return options.filter(pl.col(TS).is_between(shown[TS][0], as_of)).select(
        TS, OPT_ATM_IV, OPT_RR25
    )


def _add_vol_lines(
    fig: go.Figure, shown: pl.DataFrame, rv: pl.DataFrame, snaps: pl.DataFrame
) -> None:
    if has_data(shown, DVOL):
        fig.add_trace(
            go.Scatter(
                x=shown[TS].to_list(),
                y=_pct(shown, DVOL),
                mode="lines",
                name="DVOL",
                line={"color": COLORS["dvol"], "width": 1.8},
                hovertemplate="%{y:.1f}%",
            ),
            row=1,
            col=1,
        )
    if has_data(snaps, OPT_ATM_IV):
        fig.add_trace(
            go.Scatter(
                x=snaps[TS].to_list(),
                y=_pct(snaps, OPT_ATM_IV),
                mode="lines+markers",
                name="30-day ATM IV (chain snapshots)",
                line={"color": COLORS["atm_iv"], "width": 1, "dash": "dot"},
                marker={"size": 8},
                hovertemplate="%{y:.1f}%",
            ),
            row=1,
            col=1,
        )
    if has_data(rv, _RV):
        fig.add_trace(
            go.Scatter(
                x=rv[TS].to_list(),
                y=_pct(rv, _RV),
                mode="lines",
                name=f"realised vol {RV_DAYS}d",
                line={"color": COLORS["realized"], "width": 1.2, "dash": "dash"},
                hovertemplate="%{y:.1f}%",
            ),
            row=1,
            col=1,
        )


def _add_skew(fig: go.Figure, snaps: pl.DataFrame) -> None:
    fig.add_trace(
        go.Scatter(
            x=snaps[TS].to_list(),
            y=_pct(snaps, OPT_RR25),
            mode="lines+markers",
            name="30-day 25-delta risk reversal (calls - puts)",
            line={"color": COLORS["rr25"], "width": 1, "dash": "dot"},
            marker={"size": 8},
            hovertemplate="%{y:+.1f} vol pts",
        ),
        row=2,
        col=1,
    )
    fig.add_hline(y=0, line={"color": COLORS["muted"], "width": 1}, row=2, col=1)
    fig.update_yaxes(title_text="vol pts", row=2)
