"""A generated store and the dashboard app over it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rallylens.datasets import build_synthetic_store

with warnings.catch_warnings():
    # starlette asks for httpx2 and warns when it finds httpx
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

SYNTHETIC_DAYS = 500
OPTIONS_DAYS = 45


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BTC and ETH, 500 days of generated hourly data, 45 days of option chains."""
    path = tmp_path_factory.mktemp("web") / "synthetic.duckdb"
    return build_synthetic_store(path, days=SYNTHETIC_DAYS, options_days=OPTIONS_DAYS)


def make_client(store: Path, **kwargs: Any) -> TestClient:
    from rallylens.web import create_app

    return TestClient(create_app(store, **kwargs))


@pytest.fixture(scope="session")
def client(synthetic_store: Path) -> Iterator[TestClient]:
    """The dashboard over the synthetic store (caches shared by the session)."""
    yield make_client(synthetic_store)
