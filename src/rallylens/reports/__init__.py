"""Reports: figures, the self-contained HTML report and PNG export.

The flow is :func:`load_report_data` (store, read-only) ->
:func:`build_figures` (plotly figures) -> :func:`render_report_html` /
:func:`write_report` (one HTML file with plotly.js inlined, or PNGs).
"""

from rallylens.reports._build import FIGURE_KEYS, FIGURE_TITLES, build_figures
from rallylens.reports._data import (
    CHAIN_MAX_AGE,
    ReportData,
    assemble_report_data,
    load_report_data,
    recent_chain,
)

__all__ = [
    "CHAIN_MAX_AGE",
    "FIGURE_KEYS",
    "FIGURE_TITLES",
    "ReportData",
    "assemble_report_data",
    "build_figures",
    "load_report_data",
    "recent_chain",
]
