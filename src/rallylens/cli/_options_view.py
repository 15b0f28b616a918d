"""``rallylens options``: the latest chain snapshot's positioning, as tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from rich.console import Group
from rich.table import Table

from rallylens._typing import SeriesKind
from rallylens.exceptions import InsufficientDataError
from rallylens.schemas import TS, SeriesKey
from rallylens.store import Store, list_series, read_series

__all__ = ["chain_history", "latest_chain", "options_view"]


def _stored_chains(
    store: Store, asset: str, at: datetime | None
) -> list[tuple[SeriesKey, pl.DataFrame]]:
    """Each stored chain series of ``asset`` with its snapshots taken by ``at``.

    Raises
    ------
    InsufficientDataError
        If the store holds no chain of the asset (before ``at``).
    """
    series = list_series(store, asset=asset.upper()).filter(
        pl.col("kind") == SeriesKind.OPTIONS_CHAIN.value
    )
    found = []
    for row in series.iter_rows(named=True):
        key = SeriesKey(
            str(row["venue"]),
            str(row["market"]),
            SeriesKind.OPTIONS_CHAIN,
            str(row["timeframe"]),
        )
        frame = read_series(store, key, end=at)
        if not frame.is_empty():
            found.append((key, frame))
    if not found:
        when = f" taken by {at:%Y-%m-%d %H:%M} UTC" if at else ""
        raise InsufficientDataError(
            f"the store holds no {asset.upper()} option chain{when}; fetch one "
            f"('rallylens fetch {asset.upper()} --venue deribit') or import a "
            "Deribit chain file"
        )
    return found


def latest_chain(
    store: Store, asset: str, at: datetime | None
) -> tuple[SeriesKey, pl.DataFrame]:
    """The newest stored option-chain snapshot of ``asset`` taken by ``at``."""

    def newest(chain: tuple[SeriesKey, pl.DataFrame]) -> Any:
        return chain[1].select(pl.col(TS).max()).item()

    key, frame = max(_stored_chains(store, asset, at), key=newest)
    return key, frame.filter(pl.col(TS) == newest((key, frame)))


def chain_history(store: Store, asset: str, at: datetime | None) -> pl.DataFrame:
    """Every stored chain snapshot of ``asset`` taken by ``at``, oldest first."""
    return pl.concat([f for _, f in _stored_chains(store, asset, at)]).sort(TS)


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
