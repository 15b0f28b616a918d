"""Terminal views of rallies and of one rally's analysis."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from rich.console import Group
from rich.panel import Panel as RichPanel
from rich.table import Table
from rich.text import Text

from rallylens._typing import RallyKind
from rallylens.cli._render import frame_table
from rallylens.rallies import GROUPS, UNITS, RallyAnalysis, Signal, score_column
from rallylens.schemas import (
    LOW_PRICE,
    LOW_TS,
    PEAK_PRICE,
    PEAK_TS,
    REGIME,
    STATUS,
)

__all__ = ["analysis_view", "rallies_table", "rallies_view"]

_KIND_STYLE = {
    RallyKind.BEAR_MARKET_RALLY.value: "bold red",
    RallyKind.SPOT_LED.value: "bold green",
    RallyKind.LEVERAGED_LONG.value: "bold yellow",
    RallyKind.UNDETERMINED.value: "bold",
}
_KINDS = (RallyKind.BEAR_MARKET_RALLY, RallyKind.SPOT_LED, RallyKind.LEVERAGED_LONG)


def rallies_table(table: pl.DataFrame) -> pl.DataFrame:
    """The columns of ``rallylens rallies``: one row per rally, readable units."""
    score = pl.max_horizontal(*(pl.col(score_column(k)) for k in _KINDS))
    return table.select(
        pl.col(LOW_TS).alias("start"),
        pl.col(LOW_PRICE).alias("low"),
        pl.col(PEAK_TS).alias("peak_date"),
        pl.col(PEAK_PRICE).alias("peak"),
        (pl.col(Signal.MAX_GAIN) * 100).alias("gain_pct"),
        (pl.col(PEAK_TS) - pl.col(LOW_TS)).dt.total_days().alias("days"),
        pl.col(REGIME),
        pl.col(STATUS),
        pl.col("verdict"),
        score.alias("score"),
        pl.col("confidence"),
    )


def rallies_view(asset: str, shown: pl.DataFrame, total: int) -> Table:
    """Rich table of :func:`rallies_table` rows."""
    title = f"{asset}: {shown.height} rallies" + (
        f" (of {total} in the history)" if total != shown.height else ""
    )
    table = frame_table(
        shown,
        title=title,
        formats={
            "low": ",.2f",
            "peak": ",.2f",
            "gain_pct": "+.1f",
            "score": ".2f",
            "confidence": ".0%",
        },
    )
    for column in table.columns:
        column.no_wrap = True
        column.overflow = "ellipsis"
    return table


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    return format(value, ",.0f") if abs(value) >= 1000 else format(value, ".4g")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, datetime) else "-"


def analysis_view(result: RallyAnalysis) -> Group:
    """Verdict, reasons, levels, missing data and the full anatomy."""
    rally = result.rally
    gain = result.anatomy.get(Signal.GAIN.value)
    state = "in progress" if result.in_progress else f"ended {_when(rally['end_ts'])}"
    head = Text.assemble(
        (f"{result.asset}", "bold"),
        f" as of {result.as_of:%Y-%m-%d %H:%M} UTC, last close "
        f"{result.last_close:,.2f}\n",
        f"rally from {rally[LOW_PRICE]:,.2f} on {_when(rally[LOW_TS])} "
        f"(confirmed {_when(rally['confirm_ts'])}), {state}; "
        f"peak {rally[PEAK_PRICE]:,.2f} on {_when(rally[PEAK_TS])}; "
        f"now {_num(gain and gain * 100, '+.1f')}% from the low; "
        f"regime at the low: {rally[REGIME]}",
    )
    verdict = result.verdict.value
    scores = ", ".join(f"{k} {v:.2f}" for k, v in result.scores.items())
    verdict_text = Text.assemble(
        ("verdict: ", "bold"),
        (verdict.replace("_", " ").upper(), _KIND_STYLE.get(verdict, "bold")),
        f"   confidence {result.confidence:.0%}   scores: {scores}\n",
        (result.explanation.headline, "italic"),
    )
    if result.failure is not None:
        verdict_text.append("\n" + str(result.failure.get("text", "")), style="bold")
    parts: list[Any] = [head, RichPanel(verdict_text, expand=False)]
    parts.append(_reasons(result))
    if result.failure and result.failure.get("analogues"):
        parts.append(_analogues(result.failure["analogues"]))
    parts.append(_levels(result))
    if result.missing:
        missing = Table(title="could not be computed", header_style="bold")
        missing.add_column("signal")
        missing.add_column("why", overflow="fold")
        for name, why in result.missing.items():
            missing.add_row(name, why)
        parts.append(missing)
    parts.append(_anatomy(result))
    return Group(*parts)


def _analogues(analogues: list[dict[str, Any]]) -> Table:
    table = Table(title="nearest past rallies (same checkpoint)", header_style="bold")
    for name in ("asset", "low", "verdict", "gain then", "failed (90d)", "30d after"):
        left = name in ("asset", "verdict")
        table.add_column(name, justify="left" if left else "right")
    for a in analogues:
        failed = a.get("failed")
        table.add_row(
            str(a["asset"]),
            _when(a["low_ts"]),
            str(a["verdict"]),
            _num(a["gain"] and a["gain"] * 100, "+.1f") + "%",
            "yes" if failed else "no" if failed is not None else "-",
            _num(a["fwd_30d"] and a["fwd_30d"] * 100, "+.1f") + "%",
        )
    return table


def _reasons(result: RallyAnalysis) -> Table:
    table = Table(title="evidence", header_style="bold")
    table.add_column("for")
    table.add_column("reason")
    table.add_column("strength", justify="right")
    for reason in result.explanation.reasons:
        table.add_row(result.verdict.value, reason.text, f"{reason.strength:.2f}")
    for reason in result.explanation.against:
        table.add_row(
            f"[dim]{reason.kind.value}[/]", reason.text, f"{reason.strength:.2f}"
        )
    return table


def _levels(result: RallyAnalysis) -> Table:
    table = Table(title="levels to watch", header_style="bold")
    table.add_column("level")
    table.add_column("price", justify="right")
    table.add_column("vs last close", justify="right")
    for name, value in result.levels.items():
        rel = None if value is None else value / result.last_close - 1
        table.add_row(
            name.replace("_", " "),
            _num(value, ",.2f"),
            "-" if rel is None else f"{rel * 100:+.1f}%",
        )
    return table


def _anatomy(result: RallyAnalysis) -> Table:
    table = Table(title="anatomy", header_style="bold")
    table.add_column("group")
    table.add_column("signal")
    table.add_column("value", justify="right")
    table.add_column("meaning", overflow="fold")
    for group, signals in GROUPS.items():
        for i, signal in enumerate(signals):
            value = result.anatomy.get(signal.value)
            table.add_row(
                group if i == 0 else "",
                signal.value,
                _value(value),
                f"[dim]{UNITS[signal]}[/]",
            )
    return table
