"""The event study: hit rates per verdict and regime, and the reliability plot."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import plotly.graph_objects as go
import polars as pl

from rallylens.reports.figures._common import add_note, has_data
from rallylens.reports.theme import COLORS, FONT_FAMILY, apply_theme, empty_figure

__all__ = ["MIN_N", "hit_rate_rows", "hit_rates_figure", "reliability_figure"]

_HIT_TITLE = "Event study: how often each kind of rally failed"
_REL_TITLE = "Event study: predicted P(fail) against what happened"
MIN_N: Final = 5
"""Groups with fewer events are shown as "too few", not as a rate."""
# columns of StudyResult.hit_rates and .reliability (rallylens.study)
BY, GROUP, N, N_KNOWN = "by", "group", "n", "n_known"
FAIL_RATE, FAIL_LO, FAIL_HI = "fail_rate", "fail_lo", "fail_hi"
FWD_MEDIAN, FWD_LO, FWD_HI = "fwd_30d_median", "fwd_30d_lo", "fwd_30d_hi"
NOTE = "note"
BIN_LO, BIN_HI, MEAN_P, OBSERVED = "bin_lo", "bin_hi", "mean_p", "observed"
_HEADER = (
    "by",
    "group",
    "n",
    "failed within 90 days (90% CI)",
    "median 30-day return (90% CI)",
    "note",
)


def _interval(mid: Any, lo: Any, hi: Any, *, signed: bool) -> str:
    if mid is None or (isinstance(mid, float) and math.isnan(mid)):
        return "-"
    fmt = "{:+.1%}" if signed else "{:.0%}"
    text = fmt.format(mid)
    if lo is not None and hi is not None:
        text += f" [{fmt.format(lo)}, {fmt.format(hi)}]"
    return text


def hit_rate_rows(hit_rates: pl.DataFrame, *, min_n: int = MIN_N) -> list[list[str]]:
    """Rows of the hit-rate table as display strings.

    Parameters
    ----------
    hit_rates : pl.DataFrame
        ``StudyResult.hit_rates``: ``by``, ``group``, ``n``, ``n_known``,
        ``fail_rate``, ``fail_lo``, ``fail_hi`` (fractions, bootstrap 90% CI),
        ``fwd_30d_median``, ``fwd_30d_lo``, ``fwd_30d_hi`` (fractions),
        ``note``.
    min_n : int, default 5
        Below this many events the rates read "too few".

    Returns
    -------
    list of list of str
        One row per group: by, group, n, failure rate with its interval,
        median 30-day forward return with its interval, note.
    """
    rows = []
    for row in hit_rates.iter_rows(named=True):
        n = int(row.get(N) or 0)
        note = str(row.get(NOTE) or "")
        if n < min_n:
            fail = fwd = "too few"
            note = note or f"fewer than {min_n} events"
        else:
            fail = _interval(
                row.get(FAIL_RATE), row.get(FAIL_LO), row.get(FAIL_HI), signed=False
            )
            fwd = _interval(
                row.get(FWD_MEDIAN), row.get(FWD_LO), row.get(FWD_HI), signed=True
            )
        label = str(row.get(GROUP, "")).replace("_", " ")
        rows.append([str(row.get(BY, "")), label, str(n), fail, fwd, note])
    return rows


def hit_rates_figure(
    hit_rates: pl.DataFrame | None,
    *,
    min_n: int = MIN_N,
    empty_message: str = "event study not run",
) -> go.Figure:
    """The hit-rate table as a figure (a plotly table).

    Parameters
    ----------
    hit_rates : pl.DataFrame or None
        See :func:`hit_rate_rows`; None when the study was not run.
    min_n : int, default 5
        Groups below this size read "too few".
    empty_message : str
        Text of the panel shown without a study (say why).

    Returns
    -------
    go.Figure
        A table with one row per verdict / regime group.
    """
    if hit_rates is None or hit_rates.is_empty():
        return empty_figure(empty_message, title=_HIT_TITLE)
    rows = hit_rate_rows(hit_rates, min_n=min_n)
    shaded = [
        COLORS["table_muted"] if r[3] == "too few" else COLORS["table_cell"]
        for r in rows
    ]
    fig = go.Figure(
        go.Table(
            columnwidth=[0.7, 1.4, 0.5, 1.8, 1.8, 1.6],
            header={
                "values": list(_HEADER),
                "fill_color": COLORS["table_header"],
                "line_color": COLORS["grid"],
                "align": "left",
                "font": {"family": FONT_FAMILY, "size": 12},
            },
            cells={
                "values": [list(col) for col in zip(*rows, strict=True)],
                "fill_color": [shaded],
                "line_color": COLORS["grid"],
                "align": "left",
                "height": 26,
                "font": {"family": FONT_FAMILY, "size": 12},
            },
        )
    )
    apply_theme(fig, title=_HIT_TITLE, height=90 + 28 * (len(rows) + 1))
    return fig


def reliability_figure(
    reliability: pl.DataFrame | None,
    *,
    scores: Mapping[str, Any] | None = None,
    empty_message: str = "event study not run",
) -> go.Figure:
    """Observed failure rate against the predicted probability, per bin.

    Parameters
    ----------
    reliability : pl.DataFrame or None
        ``StudyResult.reliability``: ``bin_lo``, ``bin_hi``, ``n``,
        ``mean_p`` (mean predicted P(fail)), ``observed`` (share that failed).
    scores : mapping, optional
        ``StudyResult.scores`` (``brier``, ``base_brier``, ``n_scored``) for
        the note.
    empty_message : str
        Text of the panel shown without a study (say why).

    Returns
    -------
    go.Figure
        Markers sized by the bin's count, the diagonal of perfect calibration.
    """
    if reliability is None or not has_data(reliability, OBSERVED):
        return empty_figure(empty_message, title=_REL_TITLE)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfect calibration",
            line={"color": COLORS["diagonal"], "dash": "dash"},
            hoverinfo="skip",
        )
    )
    fig.add_trace(_bins_trace(reliability.filter(pl.col(OBSERVED).is_not_null())))
    apply_theme(fig, title=_REL_TITLE, height=420)
    fig.update_layout(
        hovermode="closest",
        legend={"x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top"},
    )
    fig.update_xaxes(title_text="predicted P(fail)", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(
        title_text="observed failure rate", range=[0, 1.05], tickformat=".0%"
    )
    add_note(fig, _score_note(scores))
    return fig


def _bins_trace(known: pl.DataFrame) -> go.Scatter:
    """One marker per bin, its area growing with the bin's count."""
    counts = known[N].cast(pl.Float64).to_list()
    biggest = max(counts) if counts else 1.0
    return go.Scatter(
        x=known[MEAN_P].to_list(),
        y=known[OBSERVED].to_list(),
        mode="markers+text",
        name="bins (size: events)",
        text=[f"n={int(c)}" for c in counts],
        textposition="top center",
        marker={
            "size": [10 + 30 * math.sqrt(c / biggest) for c in counts],
            "color": COLORS["observed"],
            "opacity": 0.75,
        },
        hovertemplate="predicted %{x:.0%}, observed %{y:.0%}<extra></extra>",
    )


def _score_note(scores: Mapping[str, Any] | None) -> str | None:
    if not scores or scores.get("brier") is None:
        return None
    text = f"Brier {scores['brier']:.3f}"
    if scores.get("base_brier") is not None:
        text += f" vs {scores['base_brier']:.3f} for the base rate"
    if scores.get("n_scored") is not None:
        text += f" (n={scores['n_scored']})"
    return text
