"""Connection to the embedded DuckDB store."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import duckdb
import polars as pl

from rallylens.exceptions import StoreError
from rallylens.schemas import TS_DTYPE
from rallylens.store._migrations import MIGRATIONS, apply_migrations, current_version

__all__ = ["Store"]

log = logging.getLogger(__name__)


class Store:
    """The embedded store: one DuckDB file holding every series.

    Parameters
    ----------
    path : str or Path
        The database file; created (with its folder) when missing, unless
        ``read_only``. ``":memory:"`` gives a throw-away store.
    read_only : bool, default False
        Open without write access (several readers may share the file).
    wait_seconds : float, default 0
        How long to keep trying while another process holds the file (a
        running recorder holds it for a moment every few seconds).

    Notes
    -----
    Timestamps are kept as UTC ``TIMESTAMP`` values; frames leaving the store
    carry ``Datetime("us", "UTC")``. The session time zone is pinned to UTC so
    SQL never shifts them.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     store.version
    2
    """

    def __init__(
        self, path: str | Path, *, read_only: bool = False, wait_seconds: float = 0.0
    ) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self.read_only = read_only
        target = ":memory:" if self.path is None else str(self.path)
        if self.path is not None and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path is not None and read_only and not self.path.exists():
            raise StoreError(
                f"no store at {self.path}; import data first with "
                "'rallylens import PATH' or point --store at an existing file"
            )
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                self.con = duckdb.connect(target, read_only=read_only)
                break
            except duckdb.Error as exc:
                if "lock" in str(exc).lower() and time.monotonic() < deadline:
                    time.sleep(0.05)  # another process holds it for a moment
                    continue
                raise StoreError(
                    f"cannot open store {target}: {exc}. If another rallylens "
                    "process is writing to it, wait for it to finish or use "
                    "another --store"
                ) from exc
        self.con.execute("SET TimeZone = 'UTC'").fetchall()
        if read_only:
            if current_version(self.con) < MIGRATIONS[-1][0]:
                raise StoreError(
                    f"store {target} is at schema version {current_version(self.con)}"
                    "; open it once for writing (e.g. 'rallylens store info') to "
                    "upgrade it"
                )
        else:
            applied = apply_migrations(self.con)
            if applied:
                log.info("store %s migrated to version %s", target, applied[-1])

    @property
    def version(self) -> int:
        """Applied schema version."""
        return current_version(self.con)

    def run(
        self, sql: str, params: Sequence[object] | None = None
    ) -> list[tuple[object, ...]]:
        """Execute one statement and return all its rows (finishing the result)."""
        return self.con.execute(sql, list(params or [])).fetchall()

    def one(
        self, sql: str, params: Sequence[object] | None = None
    ) -> tuple[object, ...] | None:
        """Execute one statement and return its first row, if any."""
        rows = self.run(sql, params)
        return rows[0] if rows else None

    def query(self, sql: str, params: Sequence[object] | None = None) -> pl.DataFrame:
        """Run a query and return a Polars frame with UTC timestamps."""
        frame = self.con.sql(sql, params=list(params or [])).pl()
        return with_utc(frame)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def with_utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Mark every naive datetime column of a store result as UTC microseconds."""
    fixes = [
        pl.col(name).dt.cast_time_unit("us").dt.replace_time_zone("UTC")
        if dtype.time_zone is None
        else pl.col(name).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime)
    ]
    out = frame.with_columns(fixes) if fixes else frame
    for name, dtype in out.schema.items():
        if isinstance(dtype, pl.Datetime):
            assert dtype == TS_DTYPE, (name, dtype)
    return out
