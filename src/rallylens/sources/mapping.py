"""Mapping files: tell rallylens what a file is, and read any CSV/Parquet.

A mapping file is TOML with one ``[[file]]`` table per rule. A rule applies
to every imported path whose trailing components match its ``match`` glob
(``PurePath.match`` semantics: ``"oi_*_btc_4h.csv"`` or
``"coinglass/oi_all_*.csv"``). It names a preset and the options the file
itself does not reveal::

    [[file]]
    match = "kalyar_eth_dashboard/funding_rate_btc.csv"
    preset = "generic"              # or any preset name, e.g. "coinglass"
    venue = "binance"
    market = "BTC/USDT:USDT"
    kind = "funding"
    timeframe = "settle"
    notes = { source = "Binance settlements via a public dashboard cache" }
    # generic preset only:
    ts_column = "timestamp_ms"      # epoch numbers, or dates with ts_format
    epoch_unit = "ms"
    ts_truncate = "1s"              # drop sub-second jitter
    columns = { rate = "funding_rate_pct" }   # canonical = source column
    scale = { rate = 0.01 }                   # percent -> decimal
    constants = { interval_hours = 8 }

For the metric kinds (``flows``, ``positioning``, ``basis``,
``options_activity``, ``options_summary``) the generic preset takes
``metrics = { metric_name = "source column" }`` instead of ``columns``.

Option keys: ``preset, venue, market, kind, timeframe, epoch_unit,
rate_unit, oi_unit, interval_hours, snapshot_ts, derive_oi, notes`` plus the
generic keys ``ts_column, ts_format, ts_truncate, columns, metrics, scale,
constants``; presets may document more keys of their own. Unknown keys are an
error, never ignored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePath

import polars as pl

from rallylens.exceptions import ConfigError, ParseError
from rallylens.schemas import METRIC, METRICS, TS, VALUE, schema_for
from rallylens.sources._base import FileOptions, Preset
from rallylens.sources._convert import (
    Parsed,
    finish_series,
    parse_datetime,
    parse_epoch,
    parse_float,
)
from rallylens.sources._reader import ROW, RawFile, read_strings

__all__ = ["GENERIC", "MappingRule", "load_mapping", "match_rule"]

_OPTION_KEYS = {
    "venue",
    "market",
    "kind",
    "timeframe",
    "epoch_unit",
    "rate_unit",
    "oi_unit",
    "interval_hours",
    "snapshot_ts",
    "derive_oi",
}
_GENERIC_KEYS = {
    "market_column",
    "ts_column",
    "ts_format",
    "ts_truncate",
    "columns",
    "metrics",
    "scale",
    "constants",
}
_PRESET_KEYS = {"expiry_column", "instrument_column", "exchange_columns", "symbol_map"}


@dataclass(frozen=True)
class MappingRule:
    """One ``[[file]]`` rule of a mapping file."""

    match: str
    preset: str
    options: Mapping[str, object]
    extra: Mapping[str, object] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)
    origin: str = ""

    def applies(self, path: Path) -> bool:
        """Whether this rule matches ``path``."""
        return PurePath(path.as_posix()).match(self.match)

    def file_options(self, base: FileOptions) -> FileOptions:
        """``base`` (command-line options win) completed by this rule."""
        return replace(base.merged(**self.options), extra={**self.extra, **base.extra})


def load_mapping(path: str | Path) -> list[MappingRule]:
    """Read the rules of a mapping file, or of every ``*.toml`` in a folder.

    Raises
    ------
    ConfigError
        If the file is not valid TOML, a rule lacks ``match`` or ``preset``,
        or a rule has a key rallylens does not know.
    """
    path = Path(path)
    if path.is_dir():
        return [
            rule for file in sorted(path.glob("*.toml")) for rule in load_mapping(file)
        ]
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"mapping file {path}: {exc}") from exc
    unknown_top = set(document) - {"file"}
    if unknown_top:
        raise ConfigError(
            f"mapping file {path}: unknown top-level keys {sorted(unknown_top)}; "
            "rules go in [[file]] tables"
        )
    rules = []
    for i, entry in enumerate(document.get("file", []), start=1):
        rules.append(_rule(path, i, entry))
    return rules


def _rule(path: Path, index: int, entry: Mapping[str, object]) -> MappingRule:
    where = f"mapping file {path}, rule {index}"
    for required in ("match", "preset"):
        if required not in entry:
            raise ConfigError(f"{where}: missing {required!r}")
    allowed = {"match", "preset", "notes"} | _OPTION_KEYS | _GENERIC_KEYS | _PRESET_KEYS
    unknown = set(entry) - allowed
    if unknown:
        raise ConfigError(
            f"{where} ({entry['match']}): unknown keys {sorted(unknown)}; "
            f"allowed: {sorted(allowed)}"
        )
    options = {k: v for k, v in entry.items() if k in _OPTION_KEYS}
    if isinstance(options.get("snapshot_ts"), str):
        options["snapshot_ts"] = datetime.fromisoformat(
            str(options["snapshot_ts"]).replace("Z", "+00:00")
        )
    try:
        FileOptions(**options)  # type: ignore[arg-type]
    except (ConfigError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where} ({entry['match']}): {exc}") from exc
    extra = {k: v for k, v in entry.items() if k in _GENERIC_KEYS | _PRESET_KEYS}
    notes = entry.get("notes", {})
    if not isinstance(notes, dict):
        raise ConfigError(f"{where}: notes must be a table of strings")
    return MappingRule(
        str(entry["match"]),
        str(entry["preset"]),
        options,
        extra,
        {str(k): str(v) for k, v in notes.items()},
        origin=f"{path}#{index}",
    )


def match_rule(rules: Sequence[MappingRule], path: Path) -> MappingRule | None:
    """The first rule that matches ``path``, if any."""
    return next((rule for rule in rules if rule.applies(path)), None)


# --- generic preset ---------------------------------------------------------
def parse_generic(raw: RawFile, options: FileOptions) -> Parsed:
    """Parse any CSV/Parquet described by a mapping rule (see module docs).

    With ``market_column`` the file may hold several markets (one series
    each, the column holding ccxt unified symbols such as ``BTC/USD``).
    """
    if options.kind is None:
        raise ParseError(
            f"{raw.path}: the generic preset needs 'kind' in its mapping rule"
        )
    frame = read_strings(raw)
    market_column = options.extra.get("market_column")
    if market_column is None:
        return _parse_generic_part(raw, frame, options)
    if str(market_column) not in frame.columns:
        raise ParseError(f"{raw.path}: market_column {market_column!r} not in the file")
    parsed = Parsed()
    for market in sorted(frame[str(market_column)].unique().drop_nulls().to_list()):
        part = frame.filter(pl.col(str(market_column)) == market)
        parsed.add(
            _parse_generic_part(raw, part, replace(options, market=str(market).upper()))
        )
    return parsed


def _parse_generic_part(
    raw: RawFile, frame: pl.DataFrame, options: FileOptions
) -> Parsed:
    assert options.kind is not None
    extra = options.extra
    ts_column = str(extra.get("ts_column", ""))
    if ts_column not in frame.columns:
        raise ParseError(
            f"{raw.path}: ts_column {ts_column!r} not in the file's columns "
            f"{frame.columns[:12]}"
        )
    scale = _table(extra, "scale")
    base = pl.DataFrame(
        {TS: _generic_ts(raw, frame, ts_column, options), ROW: frame[ROW]}
    )
    schema = schema_for(options.kind)
    key = options.key(raw, kind=options.kind, what="mapped")
    if schema is METRICS:
        metrics = _table(extra, "metrics")
        if not metrics:
            raise ParseError(
                f"{raw.path}: kind {options.kind.value} needs a 'metrics' table "
                "in its mapping rule"
            )
        parts = [
            base.with_columns(
                pl.lit(name).alias(METRIC),
                (
                    parse_float(raw, frame, str(col)) * float(str(scale.get(name, 1.0)))
                ).alias(VALUE),
            )
            for name, col in metrics.items()
        ]
        return finish_series(raw, key, pl.concat(parts), now=options.now)
    for target, col in _table(extra, "columns").items():
        if target not in schema.columns:
            raise ParseError(
                f"{raw.path}: mapping column {target!r} is not in the "
                f"{schema.name} schema {list(schema.columns)}"
            )
        if str(col) not in frame.columns:
            raise ParseError(
                f"{raw.path}: mapped source column {col!r} not in the file"
            )
        base = base.with_columns(
            parse_float(raw, frame, str(col)).alias(target)
            * float(str(scale.get(target, 1.0)))
        )
    base = base.with_columns(
        pl.lit(value).alias(target)
        for target, value in _table(extra, "constants").items()
    )
    return finish_series(raw, key, base, now=options.now)


def _table(extra: Mapping[str, object], name: str) -> Mapping[str, object]:
    value = extra.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"mapping key {name!r} must be a table, got {value!r}")
    return value


def _generic_ts(
    raw: RawFile, frame: pl.DataFrame, column: str, options: FileOptions
) -> pl.Series:
    fmt = options.extra.get("ts_format")
    if (
        fmt is None
        and frame[column].str.strip_chars().str.contains(r"^\d+(\.\d+)?$").all()
    ):
        ts = parse_epoch(raw, frame, column, unit=options.epoch_unit)
    else:
        ts = parse_datetime(raw, frame, column, formats=[str(fmt)] if fmt else ())
    truncate = options.extra.get("ts_truncate")
    return ts.dt.truncate(str(truncate)) if truncate else ts


GENERIC = Preset(
    "generic",
    "any CSV/Parquet described by a mapping rule (columns, units, identity)",
    lambda raw: False,
    parse_generic,
)
