"""Per-bar and per-chain features (pure, vectorised, point-in-time)."""

from rallylens.features._bars import prepare_bars, to_daily
from rallylens.features.black76 import (
    Greeks,
    black76_greeks,
    black76_price,
    implied_vol,
    year_fraction,
)
from rallylens.features.gamma import (
    ChainMetrics,
    ChainSpec,
    chain_metrics,
    chain_series,
)
from rallylens.features.positioning import attach_options, option_snapshots

__all__ = [
    "ChainMetrics",
    "ChainSpec",
    "Greeks",
    "attach_options",
    "black76_greeks",
    "black76_price",
    "chain_metrics",
    "chain_series",
    "implied_vol",
    "option_snapshots",
    "prepare_bars",
    "to_daily",
    "year_fraction",
]
