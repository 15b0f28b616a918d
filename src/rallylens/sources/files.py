"""File import: find files, recognise their format, parse them to canonical series.

Presets, tried in this order when none is named:

=====================  ===================================================
binance-klines         Binance kline CSV (bulk archive; 12 or 8 columns)
binance-funding        Binance archive fundingRate CSV
binance-metrics        Binance archive futures metrics CSV (5-minute OI)
cryptodatadownload     CryptoDataDownload exchange CSV
freqtrade              freqtrade OHLCV / mark / funding_rate (feather, CSV)
coinglass              Coinglass API v4 exports
coinalyze              Coinalyze open-interest exports
deribit-*              Deribit option chains, DVOL and option summaries
generic                any CSV/Parquet described by a mapping rule
=====================  ===================================================

A mapping rule matching the file's path names the preset and supplies what
the file does not say (venue, market, units); options given on the command
line win over the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from rallylens.exceptions import ParseError
from rallylens.sources._base import FileOptions, Preset
from rallylens.sources._convert import Parsed
from rallylens.sources._reader import RawFile, read_raw
from rallylens.sources.binance import BINANCE_FUNDING, BINANCE_KLINES, BINANCE_METRICS
from rallylens.sources.cryptodatadownload import CRYPTODATADOWNLOAD
from rallylens.sources.freqtrade import FREQTRADE
from rallylens.sources.mapping import GENERIC, MappingRule, match_rule

__all__ = ["DATA_SUFFIXES", "PRESETS", "detect_preset", "find_files", "parse_file"]

DATA_SUFFIXES = (
    ".csv",
    ".csv.gz",
    ".zip",
    ".parquet",
    ".feather",
    ".arrow",
    ".ipc",
    ".gz",
)


def _all_presets() -> tuple[Preset, ...]:
    from rallylens.sources import _registry

    return (
        BINANCE_KLINES,
        BINANCE_FUNDING,
        BINANCE_METRICS,
        CRYPTODATADOWNLOAD,
        FREQTRADE,
        *_registry.EXTRA_PRESETS,
        GENERIC,
    )


PRESETS: dict[str, Preset] = {p.name: p for p in _all_presets()}


def find_files(paths: Iterable[str | Path], *, recursive: bool = False) -> list[Path]:
    """Expand directories into the data files they hold, sorted by path.

    Raises
    ------
    ParseError
        If a path does not exist, or a directory is given without
        ``recursive`` and holds sub-directories only.
    """
    found: list[Path] = []
    for item in map(Path, paths):
        if not item.exists():
            raise ParseError(f"{item}: no such file or directory")
        if item.is_file():
            found.append(item)
            continue
        pattern = "**/*" if recursive else "*"
        found.extend(
            p
            for p in sorted(item.glob(pattern))
            if p.is_file()
            and p.name.lower().endswith(DATA_SUFFIXES)
            and not p.name.startswith(".")
        )
    return sorted(dict.fromkeys(found))


def detect_preset(raw: RawFile) -> Preset:
    """The first preset whose detector accepts the file.

    Raises
    ------
    ParseError
        If no preset recognises it, naming the header seen and what to do.
    """
    for preset in PRESETS.values():
        if preset.detect(raw):
            return preset
    header = ", ".join(raw.columns[:10]) or (
        raw.head_lines[0][:80] if raw.head_lines else "?"
    )
    raise ParseError(
        f"{raw.path}: format not recognised (header: {header}); pass --preset "
        f"(one of {', '.join(PRESETS)}) or describe it in a mapping file (--mapping)"
    )


def parse_file(
    path: str | Path,
    *,
    preset: str | None = None,
    options: FileOptions | None = None,
    rules: Sequence[MappingRule] = (),
) -> tuple[RawFile, Preset, Parsed]:
    """Read and parse one file into canonical series (nothing is stored).

    Parameters
    ----------
    path : str or Path
        The file (``.csv``, ``.csv.gz``, ``.zip``, ``.parquet``, ``.feather``).
    preset : str, optional
        Force a preset instead of detecting it (and instead of a rule's).
    options : FileOptions, optional
        What the user states about the file; wins over a matching rule.
    rules : sequence of MappingRule
        Mapping rules; the first that matches the path applies.

    Raises
    ------
    ParseError
        If the file cannot be read, recognised or converted.
    """
    raw = read_raw(path)
    options = options or FileOptions()
    rule = match_rule(rules, raw.path)
    notes: dict[str, str] = {}
    if rule is not None:
        options = rule.file_options(options)
        preset = preset or rule.preset
        notes = dict(rule.notes)
    chosen = _preset(preset) if preset else detect_preset(raw)
    parsed = chosen.parse(raw, options)
    if notes:
        parsed.series = [
            type(s)(s.key, s.frame, {**s.notes, **notes}) for s in parsed.series
        ]
    if not parsed.series:
        raise ParseError(f"{raw.path}: no rows found")
    return raw, chosen, parsed


def _preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ParseError(
            f"unknown preset {name!r}; use one of: {', '.join(PRESETS)}"
        ) from None
