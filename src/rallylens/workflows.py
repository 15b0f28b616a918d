"""Entry points that read the store and compute: bars, analysis, study.

The CLI, the report and the web dashboard call these, so the same library
functions stand behind every way of asking. The store is opened read-only;
everything after the read is pure (features -> rallies -> study).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from rallylens._typing import RallyKind
from rallylens.exceptions import InsufficientDataError
from rallylens.features import attach_options, option_snapshots, prepare_bars
from rallylens.rallies import RallyAnalysis, analyze_rally, score_column
from rallylens.schemas import timeframe_duration
from rallylens.store import Store, chain_history, list_series, load_panel
from rallylens.study import StudyResult, StudySpec, failure_outlook, run_study

__all__ = [
    "STUDY_TIMEFRAME",
    "AssetBars",
    "analyze",
    "load_bars",
    "load_study",
    "store_assets",
]

STUDY_TIMEFRAME = "1d"
"""The study's bars: daily, so the years covered only by daily series count."""


@dataclass(frozen=True)
class AssetBars:
    """One asset's feature bars, its option chains, and what is missing.

    Attributes
    ----------
    asset, timeframe : str
        What was loaded.
    bars : pl.DataFrame
        Schema BARS, option positioning attached where chains exist.
    missing : dict[str, str]
        Column groups without data, and why (``Panel.missing`` + options).
    chains : pl.DataFrame
        Every stored chain snapshot taken by the as-of time (empty if none).
    snapshots : pl.DataFrame
        Per snapshot, the option bar columns (``features.option_snapshots``).
    """

    asset: str
    timeframe: str
    bars: pl.DataFrame
    missing: dict[str, str]
    chains: pl.DataFrame
    snapshots: pl.DataFrame


def _open(path: str | Path) -> Store:
    if not Path(path).exists():
        raise InsufficientDataError(
            f"no store at {path}; load data first with 'rallylens import PATH' "
            "(or point --store / RALLYLENS_STORE at an existing store)"
        )
    return Store(path, read_only=True, wait_seconds=10)


def store_assets(path: str | Path) -> list[str]:
    """Assets the store holds any series of, sorted."""
    with _open(path) as store:
        series = list_series(store)
    return sorted({str(a) for a in series["asset"].to_list() if a})


def load_bars(
    path: str | Path, asset: str, timeframe: str, as_of: datetime | None = None
) -> AssetBars:
    """Feature bars of ``asset`` with option positioning where chains exist.

    Raises
    ------
    InsufficientDataError
        If the store is missing or holds no prices of the asset by ``as_of``.
    """
    with _open(path) as store:
        panel = load_panel(store, asset, timeframe, as_of=as_of)
        chains = chain_history(store, panel.asset, as_of, required=False)
    bars = prepare_bars(panel.frame, panel.asset)
    missing = dict(panel.missing)
    snapshots = option_snapshots(chains)
    if chains.is_empty():
        missing["options"] = (
            "no option chain snapshots stored; fetch them "
            f"('rallylens fetch {panel.asset} --venue deribit') or import a chain"
        )
    else:
        step = timeframe_duration(timeframe) or timedelta(hours=1)
        bars = attach_options(bars, snapshots, bar=step)
    return AssetBars(panel.asset, timeframe, bars, missing, chains, snapshots)


def load_study(
    path: str | Path,
    assets: list[str],
    *,
    as_of: datetime | None = None,
    timeframe: str = STUDY_TIMEFRAME,
    spec: StudySpec | None = None,
) -> StudyResult:
    """Run the study over ``assets`` (those without prices are skipped).

    Raises
    ------
    InsufficientDataError
        If none of the assets has prices in the store.
    """
    frames = []
    for asset in assets:
        try:
            frames.append(load_bars(path, asset, timeframe, as_of).bars)
        except InsufficientDataError:
            continue
    if not frames:
        raise InsufficientDataError(
            f"none of {', '.join(assets)} has prices in the store; import or "
            "fetch them first"
        )
    result = run_study(pl.concat(frames, how="vertical_relaxed"), spec)
    return replace(result, timeframe=timeframe)


def analyze(
    path: str | Path,
    asset: str,
    *,
    as_of: datetime | None = None,
    timeframe: str = STUDY_TIMEFRAME,
    study: StudyResult | None = None,
    with_study: bool = True,
) -> RallyAnalysis:
    """The rally of ``asset`` at ``as_of``, with P(fail) from the study.

    Parameters
    ----------
    path : str or Path
        Store path.
    asset : str
        Base asset.
    as_of : datetime, optional
        Only data known by then (default: everything stored).
    timeframe : str
        Bars of the analysis.
    study : StudyResult, optional
        A study to take the failure model from (default: run one over every
        asset in the store, as of ``as_of``).
    with_study : bool
        False skips the failure outlook.
    """
    loaded = load_bars(path, asset, timeframe, as_of)
    result = analyze_rally(loaded.bars, as_of=as_of, missing_sources=loaded.missing)
    if not with_study:
        return result
    if study is None:
        try:
            study = load_study(path, store_assets(path), as_of=result.as_of)
        except InsufficientDataError:
            return result
    same = result
    study_timeframe = study.timeframe or STUDY_TIMEFRAME
    if timeframe != study_timeframe:
        # the model was fitted on the study's bars: judge the rally on those too
        daily = load_bars(path, asset, study_timeframe, as_of)
        same = analyze_rally(daily.bars, as_of=as_of, missing_sources=daily.missing)
    row = {**same.anatomy}
    row.update({score_column(RallyKind(k)): v for k, v in same.scores.items()})
    outlook = failure_outlook(
        study,
        row,
        as_of=result.as_of,
        asset=result.asset,
        low_ts=result.rally["low_ts"],
        confirm_ts=result.rally.get("confirm_ts"),
    )
    return replace(result, failure=outlook)
