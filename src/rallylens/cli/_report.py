"""``rallylens report``: the rally report as one offline HTML file or PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rallylens.cli._render import console, err_console

__all__ = ["report_cmd"]


@click.command("report")
@click.argument("asset")
@click.option(
    "--at",
    "at",
    help="As-of time: only data known by then is used. A bare date means "
    "after that day's close (e.g. 2022-08-10 = 2022-08-11 00:00 UTC).",
)
@click.option(
    "--timeframe",
    default="1d",
    show_default=True,
    type=click.Choice(["1h", "4h", "1d"]),
    help="Bar length of the anatomy (figures always show daily bars).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="HTML file, or folder for --format png "
    "[default: <asset>-report-<as-of date>.html or a folder of that name].",
)
@click.option(
    "--format",
    "fmt",
    default="html",
    show_default=True,
    type=click.Choice(["html", "png"]),
    help="One self-contained HTML file (opens offline), or one PNG per figure "
    "(rendered by kaleido with the machine's Chromium).",
)
@click.option(
    "--study/--no-study",
    default=True,
    show_default=True,
    help="Run the event study (hit rates, reliability) when available.",
)
@click.pass_obj
def report_cmd(
    obj: Any,
    asset: str,
    at: str | None,
    timeframe: str,
    output: Path | None,
    fmt: str,
    study: bool,
) -> None:
    """Write ASSET's rally report: verdict, figures, anatomy and analogues.

    The report judges the rally in progress at --at (default: the newest data
    stored; nothing is fetched), and draws price with its levels, open
    interest, funding, liquidations, spot vs perp flows, volatility, dealer
    gamma and the event study. A panel without data says so.
    """
    from rallylens.cli.app import _handle_errors, _parse_as_of

    try:
        as_of = _parse_as_of(at)
    except OverflowError as exc:  # 9999-12-31 plus a day
        raise click.BadParameter(f"{at!r} is out of range", param_hint="--at") from exc
    _handle_errors(_write)(obj, asset, as_of, timeframe, output, fmt, study)


def _write(
    obj: Any,
    asset: str,
    as_of: Any,
    timeframe: str,
    output: Path | None,
    fmt: str,
    study: bool,
) -> None:
    from rallylens.reports import build_figures, load_report_data
    from rallylens.reports.html import ReportFormat, write_report

    store_path = obj.settings.store_path
    with err_console.status(f"reading {asset.upper()} from {store_path}") as status:
        if study:
            status.update(f"analysing {asset.upper()} and running the event study")
        data = load_report_data(
            store_path, asset, as_of=as_of, timeframe=timeframe, run_study=study
        )
        status.update("drawing figures")
        figures = build_figures(data)
        target = output or Path(
            f"{data.asset.lower()}-report-{data.as_of:%Y-%m-%d}"
            + (".html" if fmt == "html" else "")
        )
        status.update(f"writing {target}")
        kind: ReportFormat = "png" if fmt == "png" else "html"
        written = write_report(data, target, fmt=kind, figures=figures)
    _summary(data, figures, written)


def _summary(data: Any, figures: dict[str, Any], written: list[Path]) -> None:
    empty = [k for k, f in figures.items() if not f.data]
    verdict = data.analysis.verdict.value.replace("_", " ")
    console.print(
        f"{data.asset} as of {data.as_of:%Y-%m-%d %H:%M} UTC: [bold]{verdict}[/] "
        f"(confidence {data.analysis.confidence:.0%})"
    )
    for path in written:
        size = path.stat().st_size / 1e6
        console.print(f"wrote {path} ({size:.1f} MB)")
    if empty:
        console.print(f"[dim]panels without data: {', '.join(empty)}[/]")
