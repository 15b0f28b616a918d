"""Each package's __all__ lists exactly its public attributes."""

from __future__ import annotations

import importlib
import types

import pytest

PACKAGES = [
    "rallylens",
    "rallylens.sources",
    "rallylens.store",
    "rallylens.features",
    "rallylens.rallies",
    "rallylens.study",
    "rallylens.reports",
    "rallylens.datasets",
    "rallylens.web",
    "rallylens.cli",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_matches_public_names(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(module).items()
        if (not attr.startswith("_") or attr == "__version__")
        and not isinstance(value, types.ModuleType)
    }
    assert set(module.__all__) == public
