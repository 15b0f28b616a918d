"""Colours, fonts and the shared layout of every report figure.

This is the only module that names a colour or a font: figures ask for a
role (``COLORS["rally"]``) and the HTML report reuses the same palette for
its verdict card through :data:`KIND_COLORS`.
"""

from __future__ import annotations

from typing import Final

import plotly.graph_objects as go

from rallylens._typing import RallyKind

__all__ = [
    "COLORS",
    "FONT_FAMILY",
    "FONT_SIZE",
    "FRAME_HEIGHT",
    "KIND_COLORS",
    "apply_theme",
    "empty_figure",
    "report_css",
]

FONT_FAMILY: Final = (
    "Inter, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
)
"""System font stack: nothing is downloaded, so reports render offline."""
FONT_SIZE: Final = 12
FRAME_HEIGHT: Final = 380
"""Default figure height in pixels (the price figure is taller)."""

COLORS: Final[dict[str, str]] = {
    "text": "#1f2933",
    "muted": "#7b8794",
    "grid": "#e4e7eb",
    "background": "#ffffff",
    "up": "#2f9e44",
    "down": "#d9480f",
    "price": "#1f2933",
    "rally": "rgba(47, 158, 68, 0.10)",
    "decline": "rgba(217, 72, 15, 0.08)",
    "resistance": "#c92a2a",
    "support": "#e8590c",
    "fib": "#7048e8",
    "vwap_decline": "#d6336c",
    "vwap_rally": "#1c7ed6",
    "invalidation": "#495057",
    "profile_decline": "rgba(217, 72, 15, 0.45)",
    "profile_rally": "rgba(47, 158, 68, 0.55)",
    "hvn": "#c92a2a",
    "oi": "#1c7ed6",
    "short_covering": "#f08c00",
    "other_bars": "#ced4da",
    "funding": "#5f3dc4",
    "band": "rgba(95, 61, 196, 0.12)",
    "band_edge": "rgba(95, 61, 196, 0.35)",
    "liq_long": "#e03131",
    "liq_short": "#2f9e44",
    "spot": "#2b8a3e",
    "perp": "#e67700",
    "share": "#0b7285",
    "dvol": "#862e9c",
    "atm_iv": "#1c7ed6",
    "rr25": "#e67700",
    "realized": "#868e96",
    "call": "#2f9e44",
    "put": "#e03131",
    "net": "#343a40",
    "spot_line": "#1f2933",
    "flip": "#7048e8",
    "call_wall": "#2b8a3e",
    "put_wall": "#c92a2a",
    "diagonal": "#adb5bd",
    "observed": "#1c7ed6",
    "table_header": "#f1f3f5",
    "table_cell": "#ffffff",
    "table_muted": "#f8f9fa",
}
"""Colour of each role a figure draws."""

KIND_COLORS: Final[dict[str, str]] = {
    RallyKind.BEAR_MARKET_RALLY.value: "#c92a2a",
    RallyKind.SPOT_LED.value: "#2b8a3e",
    RallyKind.LEVERAGED_LONG.value: "#e67700",
    RallyKind.UNDETERMINED.value: "#495057",
}
"""Colour of each verdict class (figures and the HTML verdict card)."""


_TEMPLATE: list[go.layout.Template] = []


def _template() -> go.layout.Template:
    """The report's plotly template, built once.

    One validated template is much cheaper to attach than a dozen layout and
    axis updates per figure (the dashboard redraws every figure per as-of).
    """
    if not _TEMPLATE:
        axis = {"gridcolor": COLORS["grid"], "zeroline": False, "showline": False}
        layout = go.Layout(
            font={"family": FONT_FAMILY, "size": FONT_SIZE, "color": COLORS["text"]},
            paper_bgcolor=COLORS["background"],
            plot_bgcolor=COLORS["background"],
            margin={"l": 64, "r": 24, "t": 56, "b": 40},
            legend={
                "orientation": "h",
                "yanchor": "top",
                "y": -0.14,
                "xanchor": "left",
                "x": 0.0,
                "font": {"size": 11},
            },
            hovermode="x unified",
            showlegend=True,
            bargap=0.15,
            xaxis=axis,
            yaxis={
                "gridcolor": COLORS["grid"],
                "zerolinecolor": COLORS["grid"],
                "showline": False,
            },
        )
        _TEMPLATE.append(go.layout.Template(layout=layout))
    return _TEMPLATE[0]


def apply_theme(fig: go.Figure, *, title: str, height: int = FRAME_HEIGHT) -> go.Figure:
    """Give ``fig`` the report's fonts, colours, margins and legend.

    Parameters
    ----------
    fig : go.Figure
        Figure to style in place.
    title : str
        Figure title (plain text).
    height : int, default FRAME_HEIGHT
        Height in pixels.

    Returns
    -------
    go.Figure
        The same figure, for chaining.
    """
    fig.update_layout(
        template=_template(),
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        height=height,
    )
    return fig


def empty_figure(message: str, *, title: str, height: int = 220) -> go.Figure:
    """A figure that says why it is empty instead of showing an empty axis.

    Parameters
    ----------
    message : str
        Centred text, e.g. ``"no OI data for this period"``.
    title : str
        Figure title, as the full figure would have had.
    height : int, default 220
        Height in pixels (smaller than a full figure).

    Returns
    -------
    go.Figure
        No traces, hidden axes, one annotation holding ``message``.
    """
    fig = go.Figure()
    apply_theme(fig, title=title, height=height)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(
        text=message,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font={"size": 15, "color": COLORS["muted"]},
    )
    return fig


def report_css() -> str:
    """The HTML report's stylesheet, built from the palette and fonts above."""
    return _CSS.format(font=FONT_FAMILY, **COLORS)


_CSS = """
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: #f5f6f8; color: {text};
  font-family: {font}; font-size: 14px; line-height: 1.45; }}
main {{ max-width: 1280px; margin: 0 auto; padding: 24px 28px 48px; }}
h1 {{ font-size: 24px; margin: 0 0 4px; }}
h2 {{ font-size: 18px; margin: 28px 0 10px; }}
.card > h2:first-child {{ margin-top: 0; }}
h3 {{ font-size: 13px; text-transform: uppercase; letter-spacing: .04em;
  color: {muted}; margin: 14px 0 6px; }}
p.sub {{ color: {muted}; margin: 0 0 16px; }}
nav {{ margin: 8px 0 0; font-size: 13px; }}
nav a {{ color: {muted}; margin-right: 14px; text-decoration: none; }}
nav a:hover {{ color: {text}; text-decoration: underline; }}
.card {{ background: #fff; border: 1px solid {grid}; border-radius: 8px;
  padding: 18px 22px; margin: 16px 0; }}
.verdict {{ border-left: 6px solid; display: grid; gap: 8px 32px;
  grid-template-columns: minmax(0, 1.1fr) minmax(0, 1fr); }}
.verdict .kind {{ font-size: 26px; font-weight: 700; letter-spacing: .02em; }}
.verdict .metrics {{ display: flex; flex-wrap: wrap; gap: 8px 22px;
  margin: 6px 0 10px; }}
.verdict .metrics span {{ color: {muted}; }}
.verdict .metrics b {{ color: {text}; font-size: 17px; }}
.verdict .headline {{ font-style: italic; margin: 8px 0; }}
.verdict ul {{ margin: 0; padding-left: 18px; }}
.verdict li {{ margin: 2px 0; }}
.verdict li .strength {{ color: {muted}; font-size: 12px; }}
.scorebar {{ display: grid; grid-template-columns: 150px 1fr 44px; gap: 8px;
  align-items: center; font-size: 12.5px; margin: 3px 0; }}
.scorebar .track {{ background: {grid}; border-radius: 3px; height: 8px; }}
.scorebar .fill {{ height: 8px; border-radius: 3px; }}
.pfail {{ background: {table_muted}; border-radius: 6px; padding: 8px 12px; }}
.figure {{ background: #fff; border: 1px solid {grid}; border-radius: 8px;
  padding: 6px; margin: 14px 0; }}
table.table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
table.table th, table.table td {{ text-align: left; padding: 5px 8px;
  border-bottom: 1px solid {grid}; vertical-align: top; }}
table.table thead th {{ background: {table_header}; font-weight: 600; }}
table.table td.num {{ text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }}
table.table tr.group th {{ background: {table_muted}; text-transform: uppercase;
  font-size: 11.5px; letter-spacing: .05em; color: {muted}; }}
table.table tr.missing td {{ color: {muted}; }}
table.levels {{ max-width: 460px; }}
details summary {{ cursor: pointer; color: {muted}; margin: 6px 0; }}
.note {{ color: {muted}; font-size: 13px; }}
ul.gaps {{ margin: 4px 0; padding-left: 18px; }}
footer {{ color: {muted}; font-size: 12px; margin-top: 36px; }}
@media (max-width: 900px) {{ .verdict {{ grid-template-columns: 1fr; }} }}
"""
