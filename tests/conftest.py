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


@pytest.fixture(scope="session")
def real_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding every file of ../shared/data/raw (imported once per run)."""
    if not SHARED_RAW.is_dir():
        pytest.skip("../shared/data/raw is not present on this machine")
    from rallylens.sources import FileOptions, find_files, load_mapping
    from rallylens.store.ingest import import_files

    rules = load_mapping(MAPPINGS)
    path = tmp_path_factory.mktemp("real") / "real.duckdb"
    with Store(path) as opened:
        summary = import_files(
            opened,
            find_files([SHARED_RAW], recursive=True),
            options=FileOptions(now=NOW),
            rules=rules,
        )
    assert not summary.failed, [f.error for f in summary.failed]
    return path


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach a host other than this machine."""
    import socket

    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in _LOOPBACK:
            raise OSError(f"test tried to reach {address!r}: tests stay on 127.0.0.1")
        real_connect(self, address)  # type: ignore[arg-type]

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if isinstance(host, str) and host not in _LOOPBACK:
            raise OSError(f"test tried to resolve {host!r}: tests stay on 127.0.0.1")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
