"""Report figures: each function takes frames and returns a plotly figure.

Figures never show, save or print; a figure whose data is absent returns a
panel saying so (``"no OI data for this period"``) instead of an empty axis.
"""

from rallylens.reports.figures.flows import spot_perp_figure
from rallylens.reports.figures.funding import funding_figure
from rallylens.reports.figures.gamma import gamma_figure
from rallylens.reports.figures.leverage import open_interest_figure
from rallylens.reports.figures.liquidations import liquidations_figure
from rallylens.reports.figures.price import price_figure
from rallylens.reports.figures.study import hit_rates_figure, reliability_figure
from rallylens.reports.figures.volatility import volatility_figure

__all__ = [
    "funding_figure",
    "gamma_figure",
    "hit_rates_figure",
    "liquidations_figure",
    "open_interest_figure",
    "price_figure",
    "reliability_figure",
    "spot_perp_figure",
    "volatility_figure",
]
