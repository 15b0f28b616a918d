"""``rallylens report`` on a generated store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rallylens.cli._report import report_cmd
from rallylens.cli.app import _Context
from rallylens.reports import FIGURE_KEYS


def run(store: Path, *args: str) -> Result:
    return CliRunner().invoke(report_cmd, list(args), obj=_Context(str(store)))


def test_report_html(synthetic_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "btc.html"
    result = run(synthetic_store, "btc", "--at", "2024-01-20", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "BTC as of 2024-01-21 00:00 UTC" in result.output
    assert f"wrote {target}" in result.output
    html = target.read_text(encoding="utf-8")
    assert (
        "BTC rally report as of 2024-01-21 00:00 UTC (after the 2024-01-20 close)"
        in html
    )
    assert 'id="verdict-card"' in html
    for key in FIGURE_KEYS:
        assert f'data-name="{key}"' in html


def test_report_runs_the_study_by_default(
    synthetic_store: Path, tmp_path: Path
) -> None:
    target = tmp_path / "study.html"
    result = run(synthetic_store, "BTC", "-o", str(target))
    assert result.exit_code == 0, result.output
    html = target.read_text(encoding="utf-8")
    assert "event study over BTC" in html
    assert "P(fail within 90 days) =" in html


def test_report_default_name(
    synthetic_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(synthetic_store, "BTC", "--at", "2024-01-20", "--no-study")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "btc-report-2024-01-21.html").is_file()


def test_report_png(synthetic_store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "png"
    result = run(
        synthetic_store, "BTC", "--at", "2024-01-20", "--no-study",
        "--format", "png", "-o", str(folder),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(f"btc-2024-01-21-{k}.png" for k in FIGURE_KEYS)


def test_report_bad_date_is_a_usage_error(synthetic_store: Path) -> None:
    result = run(synthetic_store, "BTC", "--at", "yesterday")
    assert result.exit_code == 2
    assert "'yesterday' is not an ISO date/time" in result.output


def test_report_date_out_of_range_is_a_usage_error(synthetic_store: Path) -> None:
    result = run(synthetic_store, "BTC", "--at", "9999-12-31")
    assert result.exit_code == 2
    assert "'9999-12-31' is past the last representable day" in result.output


def test_report_errors_are_printed_once(tmp_path: Path) -> None:
    result = run(tmp_path / "missing.duckdb", "BTC", "-o", str(tmp_path / "x.html"))
    assert result.exit_code == 1
    assert "InsufficientDataError" in result.output
    assert not (tmp_path / "x.html").exists()


def test_report_before_any_data(synthetic_store: Path, tmp_path: Path) -> None:
    result = run(
        synthetic_store, "BTC", "--at", "2015-01-01", "-o", str(tmp_path / "x.html")
    )
    assert result.exit_code == 1
    assert result.output.startswith("InsufficientDataError: the store holds no spot")


def test_report_unknown_asset(synthetic_store: Path, tmp_path: Path) -> None:
    result = run(synthetic_store, "DOGE", "--no-study", "-o", str(tmp_path / "x.html"))
    assert result.exit_code == 1
    assert "no spot or perp prices for DOGE" in result.output
