"""ReportData from a generated store: point in time, chains, window, figures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest

from rallylens.datasets import make_synthetic_panel
from rallylens.exceptions import InsufficientDataError
from rallylens.features import prepare_bars
from rallylens.reports import (
    CHAIN_MAX_AGE,
    FIGURE_KEYS,
    ReportData,
    assemble_report_data,
    build_figures,
    load_report_data,
)
from rallylens.schemas import DECLINE_HIGH_TS, TS
from rallylens.store import Store, chain_history


@pytest.fixture(scope="module")
def report(synthetic_store: Path) -> ReportData:
    return load_report_data(synthetic_store, "BTC")


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    panel = make_synthetic_panel("BTC", timeframe="1d", days=400)
    return prepare_bars(panel.frame, panel.asset)


def test_load_report_data_reads_everything_a_report_needs(report: ReportData) -> None:
    assert report.asset == "BTC" and report.timeframe == "1d"
    assert report.bars[TS].max() + timedelta(days=1) == report.as_of
    assert report.rallies.height >= 1
    assert report.analysis.as_of == report.as_of
    assert not report.options.is_empty()  # the generated store holds chains
    assert report.chain is not None and report.chain_note.startswith("option chain")
    assert report.study is None and "not run" in report.study_note
    assert report.window_bars is not None
    assert report.window_bars[TS].min() <= report.window_start - timedelta(days=100)


def test_window_starts_before_the_decline(report: ReportData) -> None:
    high = report.rally[DECLINE_HIGH_TS]
    assert report.window_start <= high - timedelta(days=21)
    assert report.daily[TS].is_sorted()


def test_build_figures_gives_every_key_in_order(report: ReportData) -> None:
    figures = build_figures(report)
    assert tuple(figures) == FIGURE_KEYS
    assert all(isinstance(f, go.Figure) for f in figures.values())
    for key in ("price", "open_interest", "funding", "liquidations", "spot_perp",
                "volatility", "gamma"):  # fmt: skip
        assert figures[key].data, key  # the generated store has all of it
    assert not figures["study_hit_rates"].data  # study not run


def test_assemble_is_point_in_time(bars: pl.DataFrame) -> None:
    cut = bars[TS][300] + timedelta(days=1)
    early = assemble_report_data(bars, timeframe="1d", as_of=cut)
    assert early.as_of == cut
    assert early.bars[TS].max() == bars[TS][300]
    changed = bars.with_columns(
        pl.when(pl.col(TS) > bars[TS][300])
        .then(pl.col("close") * 3)
        .otherwise(pl.col("close"))
    )
    again = assemble_report_data(changed, timeframe="1d", as_of=cut)
    assert again.analysis.anatomy == early.analysis.anatomy
    assert again.rallies.equals(early.rallies)


def test_assemble_without_chains(bars: pl.DataFrame) -> None:
    unread = assemble_report_data(bars, timeframe="1d")
    assert unread.chain is None and "not read" in unread.chain_note
    assert "options" not in unread.missing_sources
    none = assemble_report_data(bars, timeframe="1d", chains=pl.DataFrame())
    assert "options" in none.missing_sources
    assert none.options.is_empty() and none.chain is None


def test_old_chains_are_not_drawn(synthetic_store: Path, bars: pl.DataFrame) -> None:
    with Store(synthetic_store, read_only=True) as store:
        chains = chain_history(store, "BTC")
    first = chains[TS].min()
    assert isinstance(first, type(bars[TS][0]))
    as_of = first + CHAIN_MAX_AGE + timedelta(days=2)
    as_of = as_of.replace(hour=0, minute=0)
    # only the first snapshot is known, and it is too old by then
    only_first = chains.filter(pl.col(TS) == first)
    data = assemble_report_data(bars, timeframe="1d", as_of=as_of, chains=only_first)
    assert data.chain is None
    assert "no option chain within 7 days" in data.chain_note
    assert data.options.height == 1


def test_load_report_data_needs_a_store(tmp_path: Path) -> None:
    with pytest.raises(InsufficientDataError, match="no store at"):
        load_report_data(tmp_path / "missing.duckdb", "BTC")


def test_load_report_data_with_the_study(synthetic_store: Path) -> None:
    data = load_report_data(synthetic_store, "BTC", run_study=True)
    assert data.study is not None
    assert data.study_note.startswith("event study over BTC")
    assert data.failure is not None and "p_fail" in data.failure
    figures = build_figures(data)
    assert figures["study_hit_rates"].data[0].type == "table"
