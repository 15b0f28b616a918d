"""HTML tables of a report: anatomy, levels, missing data, analogues, rallies.

Every function returns an HTML fragment with all text escaped; values are
formatted in the unit of their signal (``rallylens.rallies.UNITS``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

import polars as pl

from rallylens.rallies import CONFIDENCE, GROUPS, UNITS, VERDICT, Signal
from rallylens.schemas import (
    LOW_PRICE,
    LOW_TS,
    PEAK_PRICE,
    PEAK_TS,
    REGIME,
    STATUS,
)

__all__ = [
    "analogues_table",
    "anatomy_table",
    "format_signal",
    "format_usd",
    "html_table",
    "levels_table",
    "missing_table",
    "rallies_table",
]

_PCT_SIGNED = (
    Signal.GAIN, Signal.MAX_GAIN, Signal.OFF_PEAK, Signal.RESISTANCE_DISTANCE,
    Signal.VS_VWAP_DECLINE, Signal.VS_VWAP_RALLY, Signal.OI_CHANGE,
    Signal.OI_USD_CHANGE, Signal.SPOT_CVD_RATIO, Signal.PERP_CVD_RATIO,
    Signal.CVD_GAP, Signal.VOLUME_TREND, Signal.IV_CHANGE, Signal.RV_CHANGE,
    Signal.VS_GAMMA_FLIP, Signal.CALL_WALL_DISTANCE, Signal.FUNDING_MEAN,
    Signal.FUNDING_LAST, Signal.FUNDING_FIRST_HALF,
)  # fmt: skip
_PCT = (
    Signal.REALIZED_VOL, Signal.RETRACED, Signal.MAX_RETRACED,
    Signal.SHORT_COVERING, Signal.NEW_LONGS_BARS, Signal.SHORT_COVERING_BARS,
    Signal.NEW_SHORTS_BARS, Signal.LONG_LIQUIDATION_BARS, Signal.LIQ_SHORT_SHARE,
    Signal.SPOT_SHARE, Signal.IV_LAST,
)  # fmt: skip
_PRICE = (
    Signal.RESISTANCE, Signal.INVALIDATION, Signal.VWAP_DECLINE, Signal.VWAP_RALLY,
)  # fmt: skip
_USD = (
    Signal.LIQ_LONG_USD, Signal.LIQ_SHORT_USD, Signal.LIQ_START_SHORT_USD,
    Signal.LIQ_MAX_DAY_USD, Signal.SPOT_CVD_USD, Signal.PERP_CVD_USD,
    Signal.DEALER_GEX, Signal.ETF_FLOW_USD,
)  # fmt: skip
_FLAGS = (Signal.AT_RESISTANCE, Signal.RESISTANCE_TESTED, Signal.IN_HVN)
_Z = (Signal.LIQ_SHORT_Z, Signal.FUNDING_Z)
_BP = (Signal.PREMIUM, Signal.PREMIUM_CHANGE, Signal.COINBASE_PREMIUM)
_VOL_PTS = (Signal.SKEW_CHANGE, Signal.SKEW_LAST)
_REGIMES = {-1: "bear", 0: "neutral", 1: "bull"}


def format_usd(value: float) -> str:
    """USD with a thousands/millions/billions suffix (``$1.25B``)."""
    size = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= scale:
            return f"{'-' if value < 0 else ''}${size / scale:,.2f}{suffix}"
    return f"{'-' if value < 0 else ''}${size:,.0f}"


def format_signal(signal: Signal, value: float | None) -> str:
    """An anatomy value in its signal's unit (``+26.3%``, ``$1.2B``, ``yes``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if signal in _PCT_SIGNED:
        return f"{value * 100:+.1f}%"
    if signal in _PCT:
        return f"{value * 100:.1f}%"
    if signal in _PRICE:
        return f"{value:,.2f}"
    if signal in _USD:
        return format_usd(value)
    if signal in _FLAGS:
        return "yes" if value > 0 else "no"
    if signal in _Z:
        return f"{value:+.2f}"
    if signal in _BP:
        return f"{value * 1e4:+.1f} bp"
    if signal in _VOL_PTS:
        return f"{value * 100:+.2f} vol pts"
    return _format_special(signal, value)


def _format_special(signal: Signal, value: float) -> str:
    if signal == Signal.REGIME_LEVEL:
        return _REGIMES.get(round(value), f"{value:g}")
    if signal == Signal.SPOT_SHARE_CHANGE:
        return f"{value * 100:+.1f} pts"
    if signal == Signal.SPEED:
        return f"{value * 100:+.2f}% / day"
    if signal == Signal.VOLUME_AT_HIGHS:
        return f"{value:.2f}x"
    if signal == Signal.FIB_LEVEL:
        return f"{value:.3f}" if value > 0 else "none reached"
    if signal in (Signal.DURATION_DAYS, Signal.FUNDING_SPIKE_DAYS):
        return f"{value:.0f} days"
    return f"{value:.4g}"


def html_table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    css_class: str = "table",
    numeric: Sequence[int] = (),
) -> str:
    """A plain HTML table; every cell is escaped."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{escape(c)}</td>'
            if i in numeric
            else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="{escape(css_class)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def anatomy_table(anatomy: Mapping[str, float | None]) -> str:
    """Every anatomy signal by group (``rallylens.rallies.GROUPS``) with units.

    Parameters
    ----------
    anatomy : mapping
        Signal name -> value (``RallyAnalysis.anatomy``); None when missing.

    Returns
    -------
    str
        One table; a header row per group, then signal, value and meaning.
    """
    body = []
    for group, signals in GROUPS.items():
        body.append(
            f'<tr class="group"><th colspan="3">{escape(group.replace("_", " "))}'
            "</th></tr>"
        )
        for signal in signals:
            value = anatomy.get(signal.value)
            css = ' class="missing"' if value is None else ""
            body.append(
                f"<tr{css}><td>{escape(signal.value)}</td>"
                f'<td class="num">{escape(format_signal(signal, value))}</td>'
                f"<td>{escape(UNITS[signal])}</td></tr>"
            )
    return (
        '<table class="table anatomy"><thead><tr><th>signal</th><th>value</th>'
        f"<th>meaning and unit</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def levels_table(levels: Mapping[str, float | None], last_close: float) -> str:
    """Levels to watch with their distance from the last close."""
    rows = []
    for name, value in levels.items():
        if value is None:
            rows.append([name.replace("_", " "), "-", "-"])
            continue
        rows.append(
            [
                name.replace("_", " "),
                f"{value:,.2f}",
                f"{(value / last_close - 1) * 100:+.1f}%",
            ]
        )
    return html_table(
        ["level", "price", "vs last close"],
        rows,
        css_class="table levels",
        numeric=(1, 2),
    )


def missing_table(missing: Mapping[str, str]) -> str:
    """Signals or sources that could not be computed, and why."""
    rows = [[name.replace("_", " "), why] for name, why in missing.items()]
    return html_table(["what", "why"], rows, css_class="table missing")


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d}"
    return str(value)[:10] if value else "-"


def _pct(value: Any, fmt: str = "{:+.1%}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def _failed(entry: Mapping[str, Any]) -> str:
    failed = entry.get("failed", entry.get("failed_90d"))
    if failed is None:
        return "pending"
    days = entry.get("days_to_failure")
    if failed and days is not None:
        return f"yes, after {days} days"
    return "yes" if failed else "no"


def analogues_table(analogues: Sequence[Mapping[str, Any]]) -> str:
    """Past rallies most like this one (``RallyAnalysis.failure["analogues"]``).

    Parameters
    ----------
    analogues : sequence of mappings
        ``asset``, ``low_ts``, ``confirm_ts`` (or ``peak_ts``),
        ``checkpoint_days``, ``verdict``, ``gain`` (fraction), ``failed`` (or
        ``failed_90d``), ``days_to_failure``, ``fwd_30d`` (fraction) and
        ``distance`` (standardised feature distance); absent keys show "-".

    Returns
    -------
    str
        One row per analogue, nearest first.
    """
    rows = []
    for a in analogues:
        checkpoint = a.get("checkpoint_days")
        rows.append(
            [
                str(a.get("asset", "")),
                _when(a.get("low_ts")),
                _when(a.get("confirm_ts", a.get("peak_ts"))),
                "-" if checkpoint is None else f"{checkpoint} days",
                str(a.get("verdict", "")).replace("_", " "),
                _pct(a.get("gain")),
                _failed(a),
                _pct(a.get("fwd_30d")),
                _pct(a.get("distance"), "{:.2f}"),
            ]
        )
    header = ["asset", "low", "confirmed", "judged after", "verdict then",
              "gain then", "failed within 90 days", "next 30-day return",
              "distance"]  # fmt: skip
    return html_table(header, rows, css_class="table analogues", numeric=(5, 7, 8))


def rallies_table(rallies: pl.DataFrame, *, last: int = 12) -> str:
    """The asset's most recent rallies with their verdicts (newest first)."""
    shown = rallies.tail(last).reverse()
    rows = []
    for r in shown.iter_rows(named=True):
        low, peak = r.get(LOW_PRICE), r.get(PEAK_PRICE)
        gain = peak / low - 1 if low and peak else None
        rows.append(
            [
                _when(r.get(LOW_TS)),
                f"{low:,.2f}" if low else "-",
                _when(r.get(PEAK_TS)),
                f"{peak:,.2f}" if peak else "-",
                _pct(gain),
                str(r.get(REGIME) or "-"),
                str(r.get(STATUS) or "-").replace("_", " "),
                str(r.get(VERDICT) or "-").replace("_", " "),
                _pct(r.get(CONFIDENCE), "{:.0%}"),
            ]
        )
    header = ["low", "low price", "peak", "peak price", "gain", "regime", "status",
              "verdict", "confidence"]  # fmt: skip
    return html_table(header, rows, css_class="table rallies", numeric=(1, 3, 4, 8))
