"""``rallylens study``: hit rates, model scores and what the results rest on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Group
from rich.table import Table
from rich.text import Text

from rallylens.exceptions import ConfigError
from rallylens.study import StudyResult

__all__ = ["study_view", "write_events"]


def write_events(events: pl.DataFrame, path: Path) -> None:
    """Write the event table as Parquet or CSV (by the file's suffix).

    Raises
    ------
    ConfigError
        For any other suffix.
    """
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        events.write_parquet(path)
    elif suffix == ".csv":
        events.write_csv(path)
    else:
        raise ConfigError(
            f"cannot write the event table as {path.name!r}: use a .parquet or "
            ".csv file name"
        )


def _pct(value: Any, spec: str = ".0%") -> str:
    return "-" if value is None else format(value, spec)


def _rates(result: StudyResult) -> Table:
    spec = result.spec
    level = f"{spec.confidence:.0%}"
    table = Table(
        title=f"failure within {spec.horizon_days} days (judged at confirmation, "
        f"then overall per checkpoint; {level} bootstrap intervals)",
        header_style="bold",
    )
    for name in ("by", "group", "n", "failed", "failure rate", "median 30d return"):
        table.add_column(name, justify="left" if name in ("by", "group") else "right")
    for row in result.hit_rates.iter_rows(named=True):
        if row["note"]:
            rate = row["note"]
        else:
            rate = (
                f"{_pct(row['fail_rate'])} "
                f"[{_pct(row['fail_lo'])}, {_pct(row['fail_hi'])}]"
            )
        ret = (
            "-"
            if row["fwd_30d_median"] is None
            else f"{row['fwd_30d_median']:+.1%} "
            f"[{row['fwd_30d_lo']:+.1%}, {row['fwd_30d_hi']:+.1%}]"
        )
        table.add_row(
            row["by"], row["group"], str(row["n"]), str(row["n_failed"]), rate, ret
        )
    return table


def _model(result: StudyResult) -> Group:
    s = result.scores
    if not s.get("n_scored"):
        return Group(Text("walk-forward model: too few past events to score it"))
    text = Text.assemble(
        ("walk-forward model ", "bold"),
        f"(logistic, purged expanding window; {s['n_scored']} events of "
        f"{s['n_rallies_scored']} rallies scored out of sample): Brier "
        f"{s['brier']:.3f} vs {s['base_brier']:.3f} for the base rate, log loss "
        f"{s['log_loss']:.3f} vs {s['base_log_loss']:.3f}",
    )
    rel = Table(title="reliability (out of sample)", header_style="bold")
    for name in ("predicted", "n", "mean predicted", "observed"):
        rel.add_column(name, justify="right")
    for row in result.reliability.iter_rows(named=True):
        rel.add_row(
            f"{row['bin_lo']:.0%}-{row['bin_hi']:.0%}",
            str(row["n"]),
            _pct(row["mean_p"], ".2f"),
            _pct(row["observed"], ".2f"),
        )
    return Group(text, rel)


def _separation(result: StudyResult, top: int = 8) -> Table:
    table = Table(
        title="single signals closest to separating failed from held rallies "
        "(AUC; 0.5 = none)",
        header_style="bold",
    )
    for name in ("signal", "n", "AUC", "mean if failed", "mean if held"):
        table.add_column(name, justify="left" if name == "signal" else "right")
    for row in result.separation.head(top).iter_rows(named=True):
        table.add_row(
            row["signal"],
            str(row["n"]),
            f"{row['auc']:.2f}",
            f"{row['mean_failed']:.4g}",
            f"{row['mean_held']:.4g}",
        )
    return table


def study_view(result: StudyResult, assets: list[str]) -> Group:
    """Summary tables of one study."""
    dropped = Table(title="events not used", header_style="bold")
    dropped.add_column("status")
    dropped.add_column("n", justify="right")
    dropped.add_column("e.g.", overflow="fold")
    for row in result.dropped.iter_rows(named=True):
        dropped.add_row(row["reason"], str(row["n"]), str(row["example"] or ""))
    coverage = Text("\n".join(f"- {line}" for line in result.coverage))
    head = Text.assemble(
        ("study of ", "bold"),
        f"{', '.join(assets)}: {result.events.height} events "
        f"({result.events.select('asset', 'rally_id').unique().height} rallies x "
        f"checkpoints {list(result.spec.checkpoints)} days after confirmation)",
    )
    return Group(
        head,
        _rates(result),
        _model(result),
        _separation(result),
        Text("data behind these results:", style="bold"),
        coverage,
        dropped,
    )
