"""The HTML report: self-contained, verdict card, tables, escaping; PNG export."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs

from rallylens.exceptions import ConfigError
from rallylens.reports import FIGURE_KEYS, ReportData, build_figures, load_report_data
from rallylens.reports.html import render_report_html, write_report

FAILURE = {
    "p_fail": 0.71,
    "horizon_days": 90,
    "model": "walk-forward logistic regression",
    "n_train": 38,
    "brier": 0.19,
    "base_brier": 0.24,
    "text": "P(fail within 90 days) = 0.71 (walk-forward model, n=38 past rallies, "
    "Brier 0.19 vs 0.24 base rate)",
    "analogues": [
        {
            "asset": "ETH",
            "low_ts": datetime(2022, 6, 18, tzinfo=UTC),
            "confirm_ts": datetime(2022, 7, 1, tzinfo=UTC),
            "checkpoint_days": 14,
            "verdict": "bear_market_rally",
            "gain": 0.31,
            "failed": True,
            "days_to_failure": 40,
            "fwd_30d": -0.12,
            "distance": 0.8,
        }
    ],
}


class _Refs(HTMLParser):
    """Every src/href attribute and every tag (script text is not parsed)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.refs += [v or "" for k, v in attrs if k in ("src", "href")]


def _parse(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def report(synthetic_store: Path) -> ReportData:
    return load_report_data(synthetic_store, "BTC")


@pytest.fixture(scope="module")
def html(report: ReportData) -> str:
    return render_report_html(report, build_figures(report))


def test_report_is_self_contained(html: str) -> None:
    parsed = _parse(html)
    external = [r for r in parsed.refs if not r.startswith("#")]
    assert external == []
    assert not [t for t, a in parsed.tags if t in ("link", "img", "iframe")]
    scripts = [a for t, a in parsed.tags if t == "script"]
    assert all("src" not in a for a in scripts)
    # plotly.js inlined exactly once, then one small script per figure
    assert html.count(get_plotlyjs()[:300]) == 1
    assert html.count("Plotly.newPlot(") >= len(FIGURE_KEYS)
    assert len(scripts) == 1 + len(FIGURE_KEYS)


def test_every_figure_has_its_section(html: str) -> None:
    for key in FIGURE_KEYS:
        assert f'<section class="figure" id="fig-{key}" data-name="{key}">' in html
        assert f'id="plot-{key}"' in html


def test_verdict_card(report: ReportData, html: str) -> None:
    analysis = report.analysis
    assert 'id="verdict-card"' in html
    kind = analysis.verdict.value.replace("_", " ").upper()
    assert f">{kind}</div>" in html
    assert f"confidence <b>{analysis.confidence:.0%}</b>" in html
    assert "P(fail within 90 days) <b>-</b>" in html  # no study here
    assert "P(fail) not available" in html
    for name in ("resistance above", "vwap rally low", "invalidation below"):
        assert f"<td>{name}</td>" in html
    for reason in analysis.explanation.reasons:
        assert reason.text.replace("'", "&#x27;") in html


def test_missing_data_says_why(report: ReportData, html: str) -> None:
    card = html[html.index('id="verdict-card"') : html.index('id="missing"')]
    missing = report.analysis.missing
    assert f"{len(missing)} of 60 signals could not be computed" in card
    assert '<a href="#missing">' in card
    assert "<h2>Missing data</h2>" in html
    for signal in report.analysis.missing:
        assert f"<td>{signal.replace('_', ' ')}</td>" in html


def test_anatomy_and_notes(report: ReportData, html: str) -> None:
    assert '<section class="card" id="anatomy">' in html
    assert '<tr class="group"><th colspan="3">spot vs perp</th></tr>' in html
    assert "study not run for this report" in html
    assert report.chain_note.replace("'", "&#x27;") in html


def test_failure_outlook_fills_p_fail_and_analogues(report: ReportData) -> None:
    analysis = dataclasses.replace(report.analysis, failure=FAILURE)
    data = dataclasses.replace(report, analysis=analysis)
    html = render_report_html(data, {})
    assert "P(fail within 90 days) <b>0.71</b>" in html
    assert "n=38 past rallies, Brier 0.19 vs 0.24 base rate" in html
    assert "<td>ETH</td>" in html and "yes, after 40 days" in html


def test_text_is_escaped(report: ReportData) -> None:
    evil = "<script>alert('x')</script>"
    data = dataclasses.replace(
        report, missing_sources={"oi": evil}, chain_note=evil, study_note=evil
    )
    html = render_report_html(data, {})
    assert evil not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_write_report_html(report: ReportData, tmp_path: Path) -> None:
    target = tmp_path / "out" / "btc.html"
    assert write_report(report, target) == [target]
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert target.stat().st_size < 8e6


def test_write_report_rejects_unknown_format(
    report: ReportData, tmp_path: Path
) -> None:
    bad: Any = "pdf"
    with pytest.raises(ConfigError, match="'html' or 'png'"):
        write_report(report, tmp_path / "x", fmt=bad)


def test_write_report_png(report: ReportData, tmp_path: Path) -> None:
    figures = build_figures(report)
    written = write_report(report, tmp_path / "png", fmt="png", figures=figures)
    prefix = f"btc-{report.as_of:%Y-%m-%d}"
    assert [p.name for p in written] == [f"{prefix}-{k}.png" for k in FIGURE_KEYS]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 1000


def test_png_without_a_browser_says_what_to_install(
    report: ReportData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    with pytest.raises(ConfigError, match="apt-get install chromium"):
        write_report(report, tmp_path / "png", fmt="png")
