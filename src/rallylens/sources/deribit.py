"""deribit files."""

from __future__ import annotations

from rallylens.sources._base import Preset

__all__ = ["PRESETS"]

PRESETS: tuple[Preset, ...] = ()
