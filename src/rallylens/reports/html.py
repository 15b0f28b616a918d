"""The report as one self-contained HTML file (or one PNG per figure).

The HTML inlines plotly.js once, so it opens offline; it links and loads
nothing from anywhere. All text is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any, Literal

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from rallylens import __version__
from rallylens._typing import RallyKind
from rallylens.exceptions import ConfigError
from rallylens.rallies import GROUPS, Signal
from rallylens.reports._build import FIGURE_TITLES, build_figures
from rallylens.reports._data import ReportData
from rallylens.reports.tables import (
    analogues_table,
    anatomy_table,
    levels_table,
    missing_table,
    rallies_table,
)
from rallylens.reports.theme import COLORS, KIND_COLORS, report_css
from rallylens.schemas import (
    CONFIRM_TS,
    END_TS,
    LOW_PRICE,
    LOW_TS,
    PEAK_PRICE,
    PEAK_TS,
    REGIME,
)

__all__ = ["ReportFormat", "render_report_html", "write_report"]

ReportFormat = Literal["html", "png"]
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def render_report_html(data: ReportData, figures: Mapping[str, go.Figure]) -> str:
    """The whole report as one HTML document.

    Parameters
    ----------
    data : ReportData
        What the report is about (verdict, anatomy, notes).
    figures : mapping of str to go.Figure
        Usually :func:`rallylens.reports.build_figures` of ``data``; drawn in
        the mapping's order, each in a ``<section class="figure"
        data-name=key>``.

    Returns
    -------
    str
        A complete HTML document with plotly.js inlined once: no external
        scripts, stylesheets, fonts or images.
    """
    title = f"{data.asset} rally report as of {_as_of_text(data.as_of)}"
    body = "\n".join(
        [
            _header(data, title, figures),
            _verdict_card(data),
            _missing_section(data),
            *(_figure_section(key, fig) for key, fig in figures.items()),
            _anatomy_section(data),
            _analogues_section(data),
            _rallies_section(data),
            _footer(data),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{report_css()}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>'
        f"</head><body><main>\n{body}\n</main></body></html>\n"
    )


def _as_of_text(as_of: datetime) -> str:
    """``2022-08-11 00:00 UTC (after the 2022-08-10 close)`` at midnight."""
    text = f"{as_of:%Y-%m-%d %H:%M} UTC"
    if (as_of.hour, as_of.minute, as_of.second) == (0, 0, 0):
        text += f" (after the {as_of - timedelta(days=1):%Y-%m-%d} close)"
    return text


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, datetime) else "-"


def _header(data: ReportData, title: str, figures: Mapping[str, go.Figure]) -> str:
    rally, analysis = data.rally, data.analysis
    gain = analysis.anatomy.get(Signal.GAIN.value)
    state = (
        "in progress" if analysis.in_progress else f"ended {_when(rally.get(END_TS))}"
    )
    sub = (
        f"Last close {analysis.last_close:,.2f}. Rally from "
        f"{rally[LOW_PRICE]:,.2f} on {_when(rally[LOW_TS])} (confirmed "
        f"{_when(rally.get(CONFIRM_TS))}), {state}; peak {rally[PEAK_PRICE]:,.2f} "
        f"on {_when(rally[PEAK_TS])}"
        + (f"; {gain * 100:+.1f}% from the low" if gain is not None else "")
        + f"; regime at the low: {rally.get(REGIME) or '-'}. "
        f"Anatomy on {data.timeframe} bars."
    )
    links = "".join(
        f'<a href="#fig-{escape(k)}">{escape(FIGURE_TITLES.get(k, k))}</a>'
        for k in figures
    )
    links += '<a href="#anatomy">Anatomy</a><a href="#analogues">Analogues</a>'
    return (
        f'<header><h1>{escape(title)}</h1><p class="sub">{escape(sub)}</p>'
        f"<nav>{links}</nav></header>"
    )


def _verdict_card(data: ReportData) -> str:
    analysis = data.analysis
    kind = analysis.verdict.value
    color = KIND_COLORS.get(kind, COLORS["text"])
    scores = analysis.scores
    score = scores.get(kind, max(scores.values(), default=0.0))
    failure = data.failure
    p_fail = failure.get("p_fail") if failure else None
    metrics = [
        ("score", f"{score:.2f}"),
        ("confidence", f"{analysis.confidence:.0%}"),
        ("P(fail within 90 days)", "-" if p_fail is None else f"{p_fail:.2f}"),
    ]
    metric_html = "".join(
        f"<span>{escape(k)} <b>{escape(v)}</b></span>" for k, v in metrics
    )
    return (
        f'<section class="card verdict" id="verdict-card" '
        f'style="border-left-color: {color}"><div>'
        "<h3>verdict</h3>"
        f'<div class="kind" style="color: {color}">'
        f"{escape(kind.replace('_', ' ').upper())}</div>"
        f'<div class="metrics">{metric_html}</div>'
        f'<p class="headline">{escape(analysis.explanation.headline)}</p>'
        f"{_score_bars(scores)}{_failure_block(data)}{_missing_summary(data)}</div>"
        f"<div>{_reasons(data)}<h3>levels to watch</h3>"
        f"{levels_table(analysis.levels, analysis.last_close)}</div></section>"
    )


def _missing_summary(data: ReportData) -> str:
    """Missing signals counted per anatomy group, linking to the reasons."""
    missing = data.analysis.missing
    if not missing:
        return '<h3>missing data</h3><p class="note">none: every signal computed</p>'
    counts = [
        f"{group.replace('_', ' ')} {n}/{len(signals)}"
        for group, signals in GROUPS.items()
        if (n := sum(s.value in missing for s in signals))
    ]
    total = sum(len(signals) for signals in GROUPS.values())
    rules = len(data.analysis.explanation.missing)
    return (
        "<h3>missing data</h3>"
        f'<p class="note">{len(missing)} of {total} signals could not be computed '
        f"({escape(', '.join(counts))}); {rules} of them are evidence the "
        "verdict rules use (missing evidence is not neutral: it lowers the score). "
        '<a href="#missing">Why each is missing</a></p>'
    )


def _score_bars(scores: Mapping[str, float]) -> str:
    rows = []
    for kind in (
        RallyKind.BEAR_MARKET_RALLY,
        RallyKind.SPOT_LED,
        RallyKind.LEVERAGED_LONG,
    ):
        value = scores.get(kind.value, 0.0)
        color = KIND_COLORS[kind.value]
        rows.append(
            f'<div class="scorebar"><span>{escape(kind.value.replace("_", " "))}</span>'
            f'<div class="track"><div class="fill" style="width: {value * 100:.0f}%; '
            f'background: {color}"></div></div><span>{value:.2f}</span></div>'
        )
    return "<h3>scores</h3>" + "".join(rows)


def _failure_block(data: ReportData) -> str:
    failure = data.failure
    if failure and failure.get("text"):
        text = str(failure["text"])
    else:
        text = (
            "P(fail) not available: the failure model did not run for this "
            f"analysis ({data.study_note})."
        )
    return f'<h3>failure probability</h3><p class="pfail">{escape(text)}</p>'


def _reasons(data: ReportData) -> str:
    explanation = data.analysis.explanation

    def items(reasons: Any, with_kind: bool) -> str:
        out = []
        for r in reasons:
            kind = f"{r.kind.value.replace('_', ' ')}: " if with_kind else ""
            out.append(
                f"<li>{escape(kind + r.text)} "
                f'<span class="strength">(strength {r.strength:.2f})</span></li>'
            )
        return "<ul>" + "".join(out) + "</ul>" if out else '<p class="note">none</p>'

    return (
        "<h3>reasons</h3>"
        + items(explanation.reasons, False)
        + "<h3>other evidence</h3>"
        + items(explanation.against, True)
    )


def _missing_section(data: ReportData) -> str:
    sources = data.missing_sources
    signals = data.analysis.missing
    gaps = "".join(
        f"<li><b>{escape(k.replace('_', ' '))}</b>: {escape(v)}</li>"
        for k, v in sources.items()
    )
    head = (
        f'<ul class="gaps">{gaps}</ul>'
        if gaps
        else '<p class="note">no data source is absent altogether; the signals '
        "below lack data inside the rally&#x27;s window.</p>"
    )
    detail = (
        f"<details open><summary>{len(signals)} anatomy signals could not be computed "
        f"(why below)</summary>{missing_table(signals)}</details>"
        if signals
        else '<p class="note">every anatomy signal was computed.</p>'
    )
    return (
        '<section class="card" id="missing"><h2>Missing data</h2>'
        f"<h3>data sources absent or incomplete</h3>{head}{detail}</section>"
    )


def _figure_section(key: str, fig: go.Figure) -> str:
    height = fig.layout.height or 400
    div = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"plot-{key}",
        config=_PLOT_CONFIG,
        default_width="100%",
        default_height=f"{height}px",
    )
    return (
        f'<section class="figure" id="fig-{escape(key)}" data-name="{escape(key)}">'
        f"{div}</section>"
    )


def _anatomy_section(data: ReportData) -> str:
    return (
        '<section class="card" id="anatomy"><h2>Anatomy</h2>'
        f"{anatomy_table(data.analysis.anatomy)}</section>"
    )


def _analogues_section(data: ReportData) -> str:
    failure = data.failure
    analogues = failure.get("analogues") if failure else None
    if analogues:
        inner = analogues_table(analogues)
    else:
        inner = (
            '<p class="note">Historical analogues come from the failure model; '
            f"study not run for this report ({escape(data.study_note)}).</p>"
        )
    return (
        '<section class="card" id="analogues"><h2>Historical analogues</h2>'
        f"{inner}</section>"
    )


def _rallies_section(data: ReportData) -> str:
    return (
        '<section class="card" id="rallies">'
        f"<h2>Recent {escape(data.asset)} rallies</h2>"
        '<p class="note">Each ended rally judged at its peak; the newest as of the '
        f"report time.</p>{rallies_table(data.rallies)}</section>"
    )


def _footer(data: ReportData) -> str:
    notes = [
        f"Options: {data.chain_note}.",
        f"Event study: {data.study_note}.",
        "Everything is point-in-time: only data known by "
        f"{data.as_of:%Y-%m-%d %H:%M} UTC is used for the verdict.",
        f"rallylens {__version__}.",
    ]
    return "<footer>" + "<br>".join(escape(n) for n in notes) + "</footer>"


def write_report(
    data: ReportData,
    path: str | Path,
    *,
    fmt: ReportFormat = "html",
    figures: Mapping[str, go.Figure] | None = None,
) -> list[Path]:
    """Write the report: one HTML file, or one PNG per figure.

    Parameters
    ----------
    data : ReportData
        The report's content.
    path : str or Path
        ``fmt="html"``: the file to write. ``fmt="png"``: the folder to write
        ``<asset>-<date>-<figure>.png`` files into (created if needed).
    fmt : {"html", "png"}, default "html"
        Output format. PNGs are rendered by kaleido with the machine's
        Chromium, offline.
    figures : mapping, optional
        Figures to use (default: :func:`build_figures` of ``data``).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ConfigError
        If ``fmt`` is unknown, or kaleido / Chromium is missing for PNGs.
    """
    if fmt not in ("html", "png"):
        raise ConfigError(f"report format must be 'html' or 'png', got {fmt!r}")
    figures = build_figures(data) if figures is None else figures
    target = Path(path)
    if fmt == "png":
        from rallylens.reports._png import write_pngs

        prefix = f"{data.asset.lower()}-{data.as_of:%Y-%m-%d}"
        return write_pngs(figures, target, prefix=prefix)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report_html(data, figures), encoding="utf-8")
    return [target]
