"""Shared fixtures: temporary stores, generated frames, the real data folder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rallylens.store import Store

SHARED_RAW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw"
MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"
NOW = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture
def shared_raw() -> Path:
    """The real data set beside the repository (../shared/data/raw)."""
    if not SHARED_RAW.is_dir():
        pytest.skip("../shared/data/raw is not present on this machine")
    return SHARED_RAW


@pytest.fixture
def mappings_dir() -> Path:
    """The mapping files shipped in the repository."""
    return MAPPINGS


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a temporary file."""
    with Store(tmp_path / "test.duckdb") as opened:
        yield opened
