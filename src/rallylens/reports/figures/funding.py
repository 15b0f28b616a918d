"""Funding APR against its trailing band."""

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
from rallylens.schemas import FUNDING_APR, TS

__all__ = ["BAND_DAYS", "funding_band", "funding_figure"]

_TITLE = "Funding (APR)"
BAND_DAYS = 90
"""Trailing days of the funding band (the anatomy's baseline window)."""
_MIN_DAYS = 20
_MEAN, _LO, _HI = "band_mean", "band_lo", "band_hi"


def funding_band(
    daily: pl.DataFrame, *, window_days: int = BAND_DAYS, n_sd: float = 2.0
) -> pl.DataFrame:
    """Trailing mean and mean ± ``n_sd`` standard deviations of the daily APR.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS: ``ts`` and ``funding_apr`` (decimal per year), sorted.
    window_days : int, default 90
        Days in the trailing window.
    n_sd : float, default 2.0
        Width of the band in standard deviations.

    Returns
    -------
    pl.DataFrame
        ``ts``, ``funding_apr``, ``band_mean``, ``band_lo``, ``band_hi``.

    Notes
    -----
    The band at day ``t`` uses days ``t - window_days .. t - 1`` (the day
    itself excluded, so a spike stands out of its own band), and needs 20
    known days; before that it is null. Pass the full history, not only the
    window shown, so the band exists from the window's first day.
    """
    apr = pl.col(FUNDING_APR).fill_nan(None)
    prior = apr.shift(1)
    mean = prior.rolling_mean(window_days, min_samples=_MIN_DAYS)
    sd = prior.rolling_std(window_days, min_samples=_MIN_DAYS)
    return daily.select(
        TS,
        apr.alias(FUNDING_APR),
        mean.alias(_MEAN),
        (mean - n_sd * sd).alias(_LO),
        (mean + n_sd * sd).alias(_HI),
    )


def funding_figure(
    daily: pl.DataFrame,
    rally: Mapping[str, Any],
    *,
    as_of: datetime,
    start: datetime | None = None,
) -> go.Figure:
    """Daily funding APR with its trailing 90-day mean ± 2 sd band.

    Parameters
    ----------
    daily : pl.DataFrame
        Daily BARS with ``ts`` and ``funding_apr`` (decimal per year); rows
        before ``start`` feed the band only.
    rally : mapping
        ``low_ts``, ``decline_high_ts``, ``end_ts`` (for the shading).
    as_of : datetime
        Analysis time.
    start : datetime, optional
        First day shown.

    Returns
    -------
    go.Figure
        APR in percent, the band (see :func:`funding_band`), a zero line; a
        "no funding data for this period" panel when there is none.
    """
    band = funding_band(daily)
    if start is not None:
        band = band.filter(pl.col(TS) >= start)
    if not has_data(band, FUNDING_APR):
        return empty_figure("no funding data for this period", title=_TITLE)
    fig = go.Figure(_band_traces(band))
    fig.add_hline(y=0, line={"color": COLORS["muted"], "width": 1})
    shade_rally(fig, rally, as_of=as_of)
    apply_theme(fig, title=_TITLE)
    set_time_range(fig, band, as_of)
    fig.update_yaxes(title_text="% per year", ticksuffix="%")
    add_note(fig, coverage_note(band, FUNDING_APR, as_of=as_of, what="funding"))
    return fig


def _band_traces(band: pl.DataFrame) -> list[go.Scatter]:
    """Band floor, band ceiling (filled to the floor), mean and the APR itself."""
    x = band[TS].to_list()

    def line(column: str, **style: Any) -> go.Scatter:
        y = [None if v is None else v * 100 for v in values(band, column)]
        return go.Scatter(x=x, y=y, mode="lines", **style)

    label = f"trailing {BAND_DAYS}-day mean"
    return [
        line(_LO, line={"width": 0}, showlegend=False, hoverinfo="skip"),
        line(
            _HI,
            fill="tonexty",
            fillcolor=COLORS["band"],
            line={"width": 0.5, "color": COLORS["band_edge"]},
            name=f"{label} ± 2 sd",
            hoverinfo="skip",
        ),
        line(
            _MEAN,
            line={"width": 1, "dash": "dot", "color": COLORS["band_edge"]},
            name=label,
            hovertemplate="%{y:.1f}%",
        ),
        line(
            FUNDING_APR,
            line={"width": 1.8, "color": COLORS["funding"]},
            name="funding APR",
            hovertemplate="%{y:.1f}%",
        ),
    ]
