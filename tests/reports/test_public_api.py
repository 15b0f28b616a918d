"""The reports packages' __all__ list exactly their public names."""

from __future__ import annotations

import importlib
import types

import pytest


@pytest.mark.parametrize("name", ["rallylens.reports", "rallylens.reports.figures"])
def test_all_matches_public_names(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(module.__all__) == public
    assert list(module.__all__) == sorted(module.__all__)
