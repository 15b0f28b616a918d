"""Generated stores: deterministic, fast, idempotent, realistic enough to judge."""

from __future__ import annotations

import time
import types
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import rallylens.datasets as datasets
from rallylens._typing import RallyKind, RallyStatus, SeriesKind
from rallylens.datasets import (
    build_synthetic_store,
    make_synthetic_panel,
    make_synthetic_series,
)
from rallylens.exceptions import ConfigError
from rallylens.features import prepare_bars
from rallylens.rallies import VERDICT, find_rallies
from rallylens.schemas import STATUS, TS, validate
from rallylens.store import Store, list_series, load_panel, read_series

BUILD_SECONDS = 3.0


def test_public_names() -> None:
    public = {
        name
        for name, value in vars(datasets).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(datasets.__all__) == public
    assert datasets.__all__ == sorted(datasets.__all__)


def test_same_seed_same_frames_other_seed_other_frames() -> None:
    first = make_synthetic_series("BTC", days=60, seed=3, options_days=5)
    again = make_synthetic_series("BTC", days=60, seed=3, options_days=5)
    other = make_synthetic_series("BTC", days=60, seed=4, options_days=5)
    assert [s.key for s in first] == [s.key for s in again]
    for a, b in zip(first, again, strict=True):
        assert_frame_equal(a.frame, b.frame)
    assert not first[0].frame.equals(other[0].frame)


def test_series_are_canonical_and_cover_every_kind() -> None:
    series = make_synthetic_series("ETH", days=45, seed=1, options_days=10)
    kinds = {s.key.kind for s in series}
    assert kinds == {
        SeriesKind.OHLCV,
        SeriesKind.FUNDING,
        SeriesKind.OPEN_INTEREST,
        SeriesKind.LIQUIDATIONS,
        SeriesKind.VOL_INDEX,
        SeriesKind.OPTIONS_CHAIN,
    }
    for item in series:
        validate(item.frame, item.key.schema)
        assert item.key.asset == "ETH"
        assert item.frame[TS].is_sorted()
        assert "synthetic" in item.notes
    hourly = series[0].frame
    assert hourly.height == 45 * 24
    no_options = make_synthetic_series("ETH", days=45, seed=1, options_days=0)
    assert SeriesKind.OPTIONS_CHAIN not in {s.key.kind for s in no_options}


def test_assets_differ() -> None:
    btc = make_synthetic_series("BTC", days=40, seed=0, options_days=0)[0].frame
    eth = make_synthetic_series("ETH", days=40, seed=0, options_days=0)[0].frame
    assert btc["close"][0] > 10 * eth["close"][0]


def test_too_few_days_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least 30"):
        make_synthetic_series("BTC", days=10)


def test_build_is_fast_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.duckdb"
    start = time.perf_counter()
    assert build_synthetic_store(path) == path
    elapsed = time.perf_counter() - start
    assert elapsed < BUILD_SECONDS, f"building took {elapsed:.2f} s"
    with Store(path, read_only=True) as store:
        series = list_series(store)
        keys = [s.key for s in make_synthetic_series("BTC", days=900, options_days=0)]
        before = {k: read_series(store, k).height for k in keys}
    assert set(series["asset"].to_list()) == {"BTC", "ETH"}
    build_synthetic_store(path)
    with Store(path, read_only=True) as store:
        assert list_series(store).height == series.height
        assert {k: read_series(store, k).height for k in keys} == before


def test_panel_is_what_the_store_gives(tmp_path: Path) -> None:
    path = build_synthetic_store(tmp_path / "s.duckdb", assets=["ETH"], days=120)
    with Store(path, read_only=True) as store:
        stored = load_panel(store, "ETH", "1d")
    panel = make_synthetic_panel("ETH", timeframe="1d", days=120)
    assert panel.missing == stored.missing
    assert_frame_equal(panel.frame, stored.frame)
    assert panel.frame.height == 120


def test_history_holds_rallies_of_several_kinds() -> None:
    panel = make_synthetic_panel("BTC", timeframe="1d")
    rallies = find_rallies(prepare_bars(panel.frame, panel.asset))
    assert rallies.height >= 5
    verdicts = set(rallies[VERDICT].to_list())
    assert len(verdicts - {RallyKind.UNDETERMINED.value}) >= 2
    assert rallies[STATUS][-1] == RallyStatus.IN_PROGRESS.value
    flows = ("funding_apr", "oi_usd", "liq_short_usd", "dvol", "spot_volume")
    for column in flows:
        assert panel.frame[column].null_count() < panel.frame.height // 10, column
    assert panel.frame.select(pl.col("funding_apr").min() < 0).item()
