"""Generated data sets for docs, tests and demos (no files, no network).

:func:`build_synthetic_store` writes a store of realistic generated markets
(spot and perp candles with taker volumes, funding, open interest,
liquidations, DVOL and option chains) through the store's real write path;
:func:`make_synthetic_series` gives the canonical series and
:func:`make_synthetic_panel` the panel ``load_panel`` reads from them.
"""

from rallylens.datasets._synthetic import (
    SYNTHETIC_ASSETS,
    SYNTHETIC_START,
    build_synthetic_store,
    make_synthetic_panel,
    make_synthetic_series,
)

__all__ = [
    "SYNTHETIC_ASSETS",
    "SYNTHETIC_START",
    "build_synthetic_store",
    "make_synthetic_panel",
    "make_synthetic_series",
]
