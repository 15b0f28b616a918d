"""Per-bar features derived from the panel (pure, point-in-time)."""

from rallylens.features._bars import prepare_bars, to_daily

__all__ = ["prepare_bars", "to_daily"]
