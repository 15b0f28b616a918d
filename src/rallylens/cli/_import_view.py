"""Summary of an import run as a frame and a rich table."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from rallylens.cli._render import console, frame_table
from rallylens.store.ingest import ImportSummary

__all__ = ["import_frame", "render_import"]


def import_frame(summary: ImportSummary) -> pl.DataFrame:
    """One row per (file, series) with rows read and rows inserted."""
    rows = []
    for result in summary.files:
        base = {
            "file": str(result.path),
            "preset": result.preset,
            "status": result.status,
            "duplicates_dropped": result.duplicates_dropped,
            "error": result.error,
        }
        if not result.series:
            rows.append(
                {
                    **base,
                    "series": None,
                    "rows": 0,
                    "inserted": 0,
                    "filled": 0,
                    "conflicting": 0,
                    "first_ts": None,
                    "last_ts": None,
                }
            )
        for s in result.series:
            rows.append(
                {
                    **base,
                    "series": str(s.key),
                    "rows": s.rows,
                    "inserted": s.inserted,
                    "filled": s.filled,
                    "conflicting": s.conflicting,
                    "first_ts": s.first,
                    "last_ts": s.last,
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)


def render_import(summary: ImportSummary, *, store_path: Path, dry_run: bool) -> None:
    """Print the per-file table and a one-line total."""
    frame = import_frame(summary).with_columns(
        pl.col("file").str.split("/").list.last()
    )
    columns = [
        "file",
        "preset",
        "status",
        "series",
        "rows",
        "inserted",
        "conflicting",
        "first_ts",
        "last_ts",
    ]
    title = "dry run: nothing written" if dry_run else f"import into {store_path}"
    console.print(frame_table(frame, title=title, columns=columns))
    counts = {
        s: sum(1 for f in summary.files if f.status == s)
        for s in ("imported", "unchanged", "skipped", "checked", "failed")
    }
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    console.print(
        f"{len(summary.files)} files: {', '.join(parts)}; {summary.inserted:,} new rows"
    )
    for failed in summary.failed:
        console.print(f"[red]failed[/] {failed.error}", soft_wrap=True)
