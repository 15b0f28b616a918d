"""Reading raw files (CSV, gzip, zip, Parquet, Feather) into string frames."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import polars as pl

from rallylens.exceptions import ParseError

__all__ = ["ROW", "RawFile", "read_raw"]

ROW = "__row"

_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rallylens-sha256")
"""Hashes file bytes while they are parsed (hashlib releases the GIL)."""
"""Column holding each row's 1-based line number in the source file."""

_TABULAR = (".parquet", ".feather", ".arrow", ".ipc")


@dataclass(frozen=True)
class RawFile:
    """A file's bytes (decompressed) and what is known about it."""

    path: Path
    data: bytes
    digest: Future[str]
    size_bytes: int
    inner_name: str

    @property
    def sha256(self) -> str:
        """SHA-256 of the file's bytes as stored on disk (before decompression)."""
        return self.digest.result()

    @property
    def name(self) -> str:
        """File name without compression suffixes (``x.csv`` for ``x.csv.gz``)."""
        return self.inner_name

    @property
    def is_tabular(self) -> bool:
        """Whether the content is Parquet or Arrow IPC (Feather) rather than text."""
        return self.inner_name.lower().endswith(_TABULAR)

    @cached_property
    def head_lines(self) -> list[str]:
        """The first few text lines (empty for binary formats)."""
        if self.is_tabular:
            return []
        text = self.data[:8192].decode("utf-8", errors="replace")
        return [line.strip("\r") for line in text.split("\n")[:6] if line.strip()]

    @cached_property
    def columns(self) -> list[str]:
        """Column names of a tabular file or a CSV's header line."""
        if self.is_tabular:
            return list(read_table(self).columns)
        lines = self.head_lines
        skip = _banner_lines(lines)
        if len(lines) <= skip:
            return []
        return [c.strip().strip('"') for c in lines[skip].split(",")]

    def where(self, row: int | None = None, column: str | None = None) -> str:
        """Human-readable location inside the file, for error messages."""
        parts = [str(self.path)]
        if row is not None:
            parts.append(f"line {row}")
        if column is not None:
            parts.append(f"column {column!r}")
        return ", ".join(parts)


def read_raw(path: str | Path) -> RawFile:
    """Read a file, transparently decompressing ``.gz`` and single-file ``.zip``.

    Raises
    ------
    ParseError
        If the file is missing, empty, or a zip that does not hold one file.
    """
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"{path}: cannot read file ({exc.strerror})") from exc
    digest = _HASHER.submit(_sha256, blob)
    name = path.name
    data = blob
    if name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(blob)
        except (OSError, EOFError) as exc:
            raise ParseError(
                f"{path}: not a valid gzip file ({exc}); re-download or decompress it"
            ) from exc
        name = name[:-3]
    elif name.lower().endswith(".zip"):
        data, name = _unzip(path, blob)
    if len(data) < 4096 and not data.strip():  # a large file is not blank
        raise ParseError(f"{path}: file is empty; nothing to import")
    return RawFile(path, data, digest, len(blob), name)


def _sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _unzip(path: Path, blob: bytes) -> tuple[bytes, str]:
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise ParseError(
                    f"{path}: zip holds {len(members)} files; rallylens reads zips "
                    "with exactly one file (as in Binance's archive): unpack it first"
                )
            return archive.read(members[0]), Path(members[0]).name
    except zipfile.BadZipFile as exc:
        raise ParseError(
            f"{path}: corrupt zip file ({exc}); download it again"
        ) from exc


def _banner_lines(lines: list[str]) -> int:
    """Lines before the header (CryptoDataDownload puts its URL first)."""
    skip = 0
    for line in lines:
        if "," not in line or line.lower().startswith(("http://", "https://")):
            skip += 1
        else:
            break
    return skip


def read_table(raw: RawFile) -> pl.DataFrame:
    """Read a Parquet or Feather file as it is (no casting)."""
    buffer = io.BytesIO(raw.data)
    try:
        if raw.inner_name.lower().endswith(".parquet"):
            return pl.read_parquet(buffer)
        return pl.read_ipc(buffer)
    except Exception as exc:  # polars raises several error types for bad bytes
        raise ParseError(f"{raw.path}: cannot read as Parquet/Feather ({exc})") from exc


def read_strings(raw: RawFile, *, has_header: bool = True) -> pl.DataFrame:
    """Read a CSV (or tabular file) with every column as a string.

    Adds :data:`ROW` with each row's line number in the file, so parse errors
    can name the line. Banner lines before the header are skipped.
    """
    if raw.is_tabular:
        frame = read_table(raw)
        frame = frame.with_columns(pl.all().cast(pl.String))
        return frame.with_row_index(ROW, offset=2).with_columns(
            pl.col(ROW).cast(pl.Int64)
        )
    skip = _banner_lines(raw.head_lines)
    try:
        frame = pl.read_csv(
            raw.data,
            has_header=has_header,
            infer_schema=False,
            skip_rows=skip,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise ParseError(
            f"{raw.path}: malformed CSV ({str(exc).splitlines()[0]}); check that every "
            "row has the same number of fields"
        ) from exc
    first_line = skip + (2 if has_header else 1)
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return frame.with_row_index(ROW, offset=first_line).with_columns(
        pl.col(ROW).cast(pl.Int64)
    )
