"""Presets defined in their own modules, in detection order."""

from __future__ import annotations

from rallylens.sources import coinalyze, coinglass, deribit
from rallylens.sources._base import Preset

__all__ = ["EXTRA_PRESETS"]

EXTRA_PRESETS: tuple[Preset, ...] = (
    *coinglass.PRESETS,
    *coinalyze.PRESETS,
    *deribit.PRESETS,
)
