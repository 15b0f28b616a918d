"""``rallylens options``: a chain snapshot's positioning, as tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from rich.console import Group
from rich.table import Table

from rallylens.schemas import DVOL, TS, SeriesKey

__all__ = ["history_view", "options_view"]


def _fmt(value: Any, spec: str = ",.0f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value != value:
        return "-"
    return format(value, spec)


def options_view(metrics: Any, key: SeriesKey, top: int = 15) -> Group:
    """Summary, per-expiry table and the strikes holding the most gamma."""
    summary = Table(title=f"{key}  {metrics.ts:%Y-%m-%d %H:%M} UTC", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    rows = [
        ("spot", _fmt(metrics.spot, ",.2f")),
        ("total GEX (USD per 1% move, estimate)", _fmt(metrics.total_gex_usd)),
        ("gamma flip", _fmt(metrics.gamma_flip, ",.0f")),
        ("call wall", _fmt(metrics.call_wall, ",.0f")),
        ("put wall", _fmt(metrics.put_wall, ",.0f")),
        ("max pain", _fmt(metrics.max_pain, ",.0f")),
        ("put/call OI", _fmt(metrics.put_call_oi_ratio, ".2f")),
        *(
            (f"ATM IV {days}d", _fmt(iv, ".1%"))
            for days, iv in sorted(metrics.cm_atm_iv.items())
        ),
        ("25d risk reversal (30d)", _fmt(_cm(metrics.cm_rr25, 30), "+.2%")),
        ("25d butterfly (30d)", _fmt(_cm(metrics.cm_bf25, 30), "+.2%")),
        ("positioning", str(metrics.positioning)),
    ]
    for name, value in rows:
        summary.add_row(name, value)
    expiries = _frame_table(metrics.by_expiry, "by expiry")
    by_strike = metrics.by_strike
    if not by_strike.is_empty():
        by_strike = by_strike.sort(pl.col("net_gex_usd").abs(), descending=True).head(
            top
        )
        by_strike = by_strike.sort("strike")
    strikes = _frame_table(by_strike, f"strikes with the most gamma (top {top})")
    parts: list[Any] = [summary, expiries, strikes]
    if metrics.note:
        parts.append(f"[dim]{metrics.note}[/]")
    return Group(*parts)


def _cm(values: Any, days: int) -> Any:
    if isinstance(values, dict):
        return values.get(days)
    return values


def _frame_table(frame: pl.DataFrame, title: str) -> Table:
    table = Table(title=title, header_style="bold")
    for name in frame.columns:
        table.add_column(
            name, justify="right" if frame.schema[name].is_numeric() else "left"
        )
    for row in frame.iter_rows():
        table.add_row(
            *(
                value.strftime("%Y-%m-%d")
                if isinstance(value, datetime)
                else _fmt(
                    value,
                    ",.4g" if isinstance(value, float) and abs(value) < 10 else ",.0f",
                )
                if isinstance(value, int | float)
                else str(value)
                for value in row
            )
        )
    return table


_HISTORY = {
    TS: ("snapshot (UTC)", "%Y-%m-%d %H:%M"),
    "spot": ("spot", ",.0f"),
    "total_gex_usd": ("GEX USD/1%", ",.0f"),
    "gamma_flip": ("flip", ",.0f"),
    "call_wall": ("call wall", ",.0f"),
    "put_wall": ("put wall", ",.0f"),
    "put_call_oi_ratio": ("P/C OI", ".2f"),
    "atm_iv_30d": ("ATM IV 30d", ".1%"),
    "rr25_30d": ("RR25 30d", "+.1%"),
    "bf25_30d": ("BF25 30d", "+.1%"),
    DVOL: ("DVOL", ".1%"),
}


def history_view(table: pl.DataFrame, title: str) -> Table:
    """One row per snapshot: the headline metrics (all of them in --json)."""
    out = Table(title=title, header_style="bold")
    columns = [c for c in _HISTORY if c in table.columns]
    for name in columns:
        out.add_column(_HISTORY[name][0], justify="left" if name == TS else "right")
    for row in table.select(columns).iter_rows(named=True):
        cells = []
        for name in columns:
            value, spec = row[name], _HISTORY[name][1]
            is_time = isinstance(value, datetime)
            cells.append(value.strftime(spec) if is_time else _fmt(value, spec))
        out.add_row(*cells)
    return out
