"""Binance bulk archive: planning, verified resumable downloads, import.

Every download runs against ``tests.emulator.archive.ArchiveEmulator`` on
127.0.0.1; the generated files carry their canonical truth, so what lands in
the store is compared with it row for row.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from rallylens.exceptions import ConfigError, SourceError, UnsupportedSymbolError
from rallylens.sources import FileOptions
from rallylens.sources.binance_archive import (
    ArchiveFile,
    ArchiveResult,
    FileOutcome,
    download_archive,
    plan_archive,
)
from rallylens.store import Store, read_series
from rallylens.store.ingest import ImportSummary, import_files
from tests.conftest import NOW
from tests.emulator import Emulator, Fault
from tests.emulator.archive import (
    ArchiveEmulator,
    ArchiveRequest,
    ArchiveSet,
    archive_base_url,
    funding_archive,
    install_archive,
    kline_archive,
    metrics_archive,
    period_labels,
    zip_csv,
)

D = date
TIMEOUT_S = 0.5
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _opener(request: urllib.request.Request, timeout_s: float) -> Any:
    return _NO_PROXY.open(request, timeout=timeout_s)


@pytest.fixture
def emu() -> Iterator[ArchiveEmulator]:
    with ArchiveEmulator() as server:
        yield server


def plan(spec: str, start: Any, end: Any, today: date) -> list[ArchiveFile]:
    """``plan("spot BTCUSDT klines 1h", start, end, today)``."""
    return plan_archive(*spec.split(), start=start, end=end, today=today)  # type: ignore[arg-type]


def download(
    files: list[ArchiveFile], dest: Path, emu: Emulator, **options: Any
) -> ArchiveResult:
    settings: dict[str, Any] = {
        "base_url": archive_base_url(emu),
        "opener": _opener,
        "sleep": lambda s: None,
        "timeout_s": TIMEOUT_S,
        **options,
    }
    return download_archive(files, dest, **settings)


def import_into(store: Store, result: ArchiveResult) -> ImportSummary:
    summary = import_files(store, result.paths, options=FileOptions(now=NOW))
    assert not summary.failed, [f.error for f in summary.failed]
    return summary


def zips(emu: ArchiveEmulator, pattern: str = "") -> list[ArchiveRequest]:
    """Requests for zip bodies (not CHECKSUM files) whose path matches."""
    return [r for r in emu.archive_requests(pattern) if r.path.endswith(".zip")]


# --- scenario: spot klines across the µs switch, um funding, um metrics ------------
TODAY = D(2025, 1, 4)
SPOT_MONTHS = ["2024-11", "2024-12"]
SPOT_DAYS = ["2025-01-01", "2025-01-02", "2025-01-03"]


def spot_plan() -> list[ArchiveFile]:
    return plan("spot BTCUSDT klines 1h", D(2024, 11, 1), D(2025, 1, 10), TODAY)


def spot_set() -> ArchiveSet:
    return kline_archive("spot", "BTCUSDT", "1h", months=SPOT_MONTHS, days=SPOT_DAYS)


@pytest.fixture
def spot(emu: ArchiveEmulator) -> ArchiveSet:
    generated = spot_set()
    install_archive(emu, generated.files)
    return generated


def test_plan_paths_match_the_archive_layout() -> None:
    files = spot_plan()
    assert [f.path for f in files] == list(spot_set().files)
    december = period_labels(D(2024, 12, 1), D(2024, 12, 31), monthly=False)
    assert [d.label for d in files[1].fallback] == december


def test_full_download_with_every_fault_equals_the_truth(
    emu: ArchiveEmulator, tmp_path: Path
) -> None:
    spot = spot_set()
    funding = funding_archive("BTCUSDT", months=["2024-10", "2024-11", "2024-12"])
    metrics = metrics_archive("BTCUSDT", days=["2024-12-31", *SPOT_DAYS])
    for generated in (spot, funding, metrics):
        install_archive(emu, generated.files)
    files = [
        *spot_plan(),
        *plan("um BTCUSDT fundingRate", D(2024, 10, 1), D(2025, 1, 4), TODAY),
        *plan("um BTCUSDT metrics", D(2024, 12, 31), D(2025, 1, 4), TODAY),
    ]
    nov, dec, _, jan2, jan3 = (rf"1h-{p}\.zip" for p in [*SPOT_MONTHS, *SPOT_DAYS])
    emu.drop_after(next(p for p in spot.files if "2025-01-01" in p), 700)
    emu.inject(  # each fault hits the next matching request, in this order
        Fault("disconnect", match=nov + r"\?"),
        Fault(
            "overlap", match=nov + r"\?", rows=300
        ),  # the resumed answer starts early
        Fault("disconnect", match=dec + r"\?"),
        Fault("skip", match=dec + r"\?", rows=200),  # ... or late: start over
        Fault("429", match=r"fundingRate-2024-10\.zip\.CHECKSUM", retry_after=0.01),
        Fault("418", match=nov + r"\.CHECKSUM", retry_after=0),
        Fault("500", match=jan2 + r"\?"),
        Fault("502", match=r"fundingRate-2024-12\.zip\?"),
        Fault("503", match=r"metrics-2024-12-31\.zip\.CHECKSUM"),
        Fault("slow", match=jan3 + r"\?", delay_s=0.05),
        Fault("timeout", match=r"metrics-2025-01-01\.zip\?", delay_s=2 * TIMEOUT_S),
        Fault("truncated", match=r"metrics-2025-01-02\.zip\?"),
        Fault("invalid", match=r"metrics-2025-01-03\.zip\.CHECKSUM"),
        Fault("invalid", match=r"fundingRate-2024-10\.zip\?"),
    )
    seen: list[FileOutcome] = []
    result = download(files, tmp_path / "archive", emu, on_progress=seen.append)

    assert not emu.pending_faults()
    assert [o.status for o in result.outcomes] == ["downloaded"] * len(files)
    assert sorted(o.file.path for o in seen) == sorted(f.path for f in files)
    assert not list((tmp_path / "archive").rglob("*.part"))
    nov_size, dec_size = (len(b) for p, b in spot.files.items() if "monthly" in p)
    assert [(r.range, r.status, r.fault, r.sent) for r in zips(emu, nov + "$")] == [
        (None, 200, "disconnect", nov_size // 2),
        (f"bytes={nov_size // 2}-", 206, "overlap", nov_size - nov_size // 2 + 300),
    ]
    assert [(r.range, r.status, r.fault) for r in zips(emu, dec + "$")] == [
        (None, 200, "disconnect"),
        (f"bytes={dec_size // 2}-", 206, "skip"),
        (None, 200, None),
    ]
    attempts = {o.file.name: o.attempts for o in result.outcomes}
    assert attempts["BTCUSDT-metrics-2025-01-01.zip"] == 2  # timed out once
    assert attempts["BTCUSDT-1h-2025-01-03.zip"] == 1  # slow, within the timeout
    with Store(tmp_path / "s.duckdb") as store:
        summary = import_into(store, result)
        sets = (spot, funding, metrics)
        assert summary.inserted == sum(s.truth().height for s in sets)
        for generated in sets:
            stored = read_series(store, generated.key)
            assert_frame_equal(stored, generated.truth())
            assert stored["ts"].is_unique().all()


def test_resumed_requests_ask_for_the_rest_only(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path
) -> None:
    files = spot_plan()[:1]
    path = files[0].path
    emu.drop_after(path, 4_000)
    result = download(files, tmp_path, emu)
    assert result.downloaded[0].attempts == 2
    first, second = zips(emu, path)
    assert (first.status, first.range, first.sent) == (200, None, 4_000)
    assert (second.status, second.range) == (206, "bytes=4000-")
    assert second.sent == len(spot.files[path]) - 4_000


# --- corrupt files and checksums ---------------------------------------------------
@pytest.mark.parametrize("breakage", ["corrupt", "wrong_checksum"])
def test_corrupt_file_is_never_imported_and_completes_once_restored(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path, breakage: str
) -> None:
    files = spot_plan()
    bad = files[0]
    if breakage == "corrupt":
        emu.corrupt(bad.path, times=100)
    else:
        emu.wrong_checksum(bad.path)
    dest = tmp_path / "archive"
    result = download(files, dest, emu, retries=2)

    (failed,) = result.failed
    assert failed.file == bad and failed.attempts == 3
    assert "gave up after 3 attempts" in failed.reason and "sha256" in failed.reason
    assert bad.path not in {p.relative_to(dest).as_posix() for p in result.paths}
    assert not (dest / bad.path).exists()
    assert not list(dest.rglob("*.part"))
    with pytest.raises(SourceError, match=r"BTCUSDT-1h-2024-11\.zip: gave up"):
        result.raise_for_failures()
    with Store(tmp_path / "s.duckdb") as store:
        import_into(store, result)
        assert_frame_equal(read_series(store, spot.key), spot.truth(without=[bad.path]))

        emu.restore(bad.path)
        before = len(zips(emu))
        again = download(files, dest, emu)
        assert [o.file for o in again.downloaded] == [bad]
        assert len(again.present) == len(files) - 1
        assert [r.path for r in zips(emu)[before:]] == [bad.path]
        import_into(store, again)
        assert_frame_equal(read_series(store, spot.key), spot.truth())


def test_file_failing_only_the_first_time_is_fetched_again(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path
) -> None:
    files = spot_plan()[:1]
    emu.corrupt(files[0].path, times=1)
    (outcome,) = download(files, tmp_path, emu).outcomes
    assert (outcome.status, outcome.attempts) == ("downloaded", 2)
    assert outcome.path is not None
    assert outcome.path.read_bytes() == spot.files[files[0].path]


def test_local_copy_that_no_longer_verifies_is_downloaded_again(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path
) -> None:
    files = spot_plan()[:2]
    damaged = download(files, tmp_path, emu).paths[0]
    damaged.write_bytes(damaged.read_bytes()[:-10])
    again = download(files, tmp_path, emu)
    assert [o.status for o in again.outcomes] == ["downloaded", "present"]
    assert damaged.read_bytes() == spot.files[files[0].path]


# --- interruption and resumption ----------------------------------------------------
@pytest.mark.parametrize("ranges", [True, False])
def test_interrupted_download_resumes_next_run(tmp_path: Path, ranges: bool) -> None:
    generated = spot_set()
    files = spot_plan()
    path = files[0].path
    size = len(generated.files[path])
    dest = tmp_path / "archive"
    with ArchiveEmulator(ranges=ranges) as emu:
        install_archive(emu, generated.files)
        emu.drop_after(path, 3_000)
        first = download(files, dest, emu, retries=0)
        (failed,) = first.failed
        assert f"connection dropped after 3,000 of {size:,} bytes" in failed.reason
        part = dest / (path + ".part")
        assert part.stat().st_size == 3_000

        second = download(files, dest, emu, retries=0)
        assert [o.file.path for o in second.downloaded] == [path]
        last = zips(emu, path)[-1]
        assert last.range == "bytes=3000-"
        resumed = (206, size - 3_000) if ranges else (200, size)
        assert (last.status, last.sent) == resumed
        assert not part.exists()
        with Store(tmp_path / "s.duckdb") as store:
            import_into(store, first)
            import_into(store, second)
            assert_frame_equal(read_series(store, generated.key), generated.truth())


def test_complete_part_left_by_a_crash_is_promoted_without_downloading(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path
) -> None:
    files = spot_plan()[:1]
    part = tmp_path / (files[0].path + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(spot.files[files[0].path])
    (outcome,) = download(files, tmp_path, emu).outcomes
    assert outcome.status == "downloaded"
    assert zips(emu) == []


def test_part_longer_than_the_file_starts_over(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path
) -> None:
    files = spot_plan()[:1]
    part = tmp_path / (files[0].path + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(spot.files[files[0].path] + b"junk")
    (outcome,) = download(files, tmp_path, emu).outcomes
    assert (outcome.status, outcome.attempts) == ("downloaded", 2)
    assert [r.status for r in zips(emu)] == [416, 200]


def test_rerun_downloads_nothing_and_imports_no_new_rows(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path
) -> None:
    files = spot_plan()
    with Store(tmp_path / "s.duckdb") as store:
        import_into(store, download(files, tmp_path / "archive", emu))
        requests = len(emu.archive_log)
        again = download(files, tmp_path / "archive", emu)
        assert [o.status for o in again.outcomes] == ["present"] * len(files)
        assert len(emu.archive_log) == requests  # not even a CHECKSUM asked
        summary = import_into(store, again)
        assert summary.inserted == 0
        assert {f.status for f in summary.files} == {"skipped"}
        assert_frame_equal(read_series(store, spot.key), spot.truth())


def test_refresh_fetches_a_file_binance_replaced(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path
) -> None:
    files = spot_plan()[:1]
    download(files, tmp_path, emu)
    replaced = kline_archive("spot", "BTCUSDT", "1h", months=["2024-11"], seed=7)
    install_archive(emu, replaced.files)
    assert download(files, tmp_path, emu).outcomes[0].status == "present"
    (outcome,) = download(files, tmp_path, emu, refresh=True).outcomes
    assert outcome.status == "downloaded"
    assert outcome.path is not None
    assert outcome.path.read_bytes() == replaced.files[files[0].path]


# --- what the archive does not have --------------------------------------------------
def test_unpublished_day_is_reported_not_failed(
    emu: ArchiveEmulator, tmp_path: Path
) -> None:
    generated = metrics_archive("BTCUSDT", days=["2024-03-01", "2024-03-02"])
    install_archive(emu, generated.files)
    files = plan("um BTCUSDT metrics", D(2024, 3, 1), D(2024, 3, 10), D(2024, 3, 4))
    result = download(files, tmp_path, emu)
    statuses = [o.status for o in result.outcomes]
    assert statuses == ["downloaded", "downloaded", "not_published"]
    assert "404" in result.not_published[0].reason
    result.raise_for_failures()  # nothing failed


def test_recent_month_not_out_yet_falls_back_to_daily_files(
    emu: ArchiveEmulator, tmp_path: Path
) -> None:
    days = period_labels(D(2024, 2, 20), D(2024, 2, 29), monthly=False)
    generated = kline_archive("um", "ETHUSDT", "4h", days=days)
    install_archive(emu, generated.files)
    files = plan("um ETHUSDT klines 4h", D(2024, 2, 20), D(2024, 3, 2), D(2024, 3, 1))
    assert [f.label for f in files] == ["2024-02"]
    result = download(files, tmp_path, emu)
    statuses = [o.status for o in result.outcomes]
    assert statuses == ["not_published", *["downloaded"] * 10]
    with Store(tmp_path / "s.duckdb") as store:
        import_into(store, result)
        assert_frame_equal(read_series(store, generated.key), generated.truth())


def test_unknown_symbol(emu: ArchiveEmulator, tmp_path: Path) -> None:
    files = plan("spot NOPEUSDT klines 1d", D(2024, 1, 1), D(2024, 3, 1), TODAY)
    with pytest.raises(UnsupportedSymbolError, match="no klines file for NOPEUSDT"):
        download(files, tmp_path, emu)


def test_geo_block_says_the_archive_refuses_this_location(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path
) -> None:
    emu.inject(Fault("451", times=100))
    with pytest.raises(SourceError, match="refuses requests from this location"):
        download(spot_plan(), tmp_path, emu)


def test_retries_exhausted_names_the_file_and_the_last_error(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path
) -> None:
    emu.inject(Fault("503", match=r"2024-12\.zip", times=10))
    waits: list[float] = []
    result = download(spot_plan()[:2], tmp_path, emu, retries=2, sleep=waits.append)
    (failed,) = result.failed
    assert failed.reason.startswith("gave up after 3 attempts; last: HTTP 503")
    assert waits == [0.5, 1.0]
    with pytest.raises(SourceError, match=r"1 archive file\(s\) failed: BTCUSDT-1h"):
        result.raise_for_failures()


def test_retry_after_is_honoured(
    emu: ArchiveEmulator, spot: ArchiveSet, tmp_path: Path
) -> None:
    emu.inject(Fault("429", match=r"2024-11\.zip\?", retry_after=7))
    waits: list[float] = []
    download(spot_plan()[:1], tmp_path, emu, sleep=waits.append)
    assert waits == [7.0]


def test_install_archive_needs_the_archive_emulator() -> None:
    with pytest.raises(TypeError, match="ArchiveEmulator"):
        install_archive(Emulator(), {})


# --- the importer reads the files as downloaded (known answers) ---------------------
FUNDING_PATH = (
    "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-01.zip"
)
METRICS_PATH = "data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2024-01-01.zip"
SPOT_PATH = "data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2025-01-01.zip"


def _import_one(
    emu: ArchiveEmulator, tmp_path: Path, path: str, csv: str
) -> pl.DataFrame:
    name = path.rsplit("/", 1)[-1].replace(".zip", ".csv")
    install_archive(emu, {path: zip_csv(name, csv)})
    candidates = [
        *plan("um BTCUSDT fundingRate", D(2024, 1, 1), D(2024, 2, 1), TODAY),
        *plan("um BTCUSDT metrics", D(2024, 1, 1), D(2024, 1, 2), TODAY),
        *plan("spot BTCUSDT klines 1h", D(2025, 1, 1), D(2025, 1, 2), D(2025, 1, 15)),
    ]
    result = download([f for f in candidates if f.path == path], tmp_path, emu)
    with Store(tmp_path / "s.duckdb") as store:
        (imported,) = import_into(store, result).files
        (series,) = imported.series
        return read_series(store, series.key)


def test_funding_rate_strings_become_decimal_rates(
    emu: ArchiveEmulator, tmp_path: Path
) -> None:
    csv = (
        "calc_time,funding_interval_hours,last_funding_rate\n"
        "1704067200011,8,0.00010000\n"
        "1704096000000,4,-0.00002500\n"
    )
    stored = _import_one(emu, tmp_path, FUNDING_PATH, csv)
    assert stored.select("ts", "rate", "interval_hours").rows() == [
        (datetime(2024, 1, 1, 0, tzinfo=UTC), 1e-4, 8),
        (datetime(2024, 1, 1, 8, tzinfo=UTC), -2.5e-5, 4),
    ]


def test_metrics_open_interest_in_base_and_usd(
    emu: ArchiveEmulator, tmp_path: Path
) -> None:
    csv = (
        "create_time,symbol,sum_open_interest,sum_open_interest_value,"
        "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,"
        "count_long_short_ratio,sum_taker_long_short_vol_ratio\n"
        "2024-01-01 00:05:00,BTCUSDT,73041.4250000000000000,"
        "3092152381.1000000000000000,1.21422318,1.53311800,1.13511948,0.94273600\n"
        "2024-01-01 00:10:00,BTCUSDT,73050.001,3092500000.5,,,1.1,0.9\n"
    )
    stored = _import_one(emu, tmp_path, METRICS_PATH, csv)
    assert stored.select("ts", "oi_base", "oi_usd").rows() == [
        (datetime(2024, 1, 1, 0, 5, tzinfo=UTC), 73041.425, 3092152381.1),
        (datetime(2024, 1, 1, 0, 10, tzinfo=UTC), 73050.001, 3092500000.5),
    ]
    assert not stored["oi_base_derived"].any() and not stored["oi_usd_derived"].any()


def test_spot_microsecond_klines(emu: ArchiveEmulator, tmp_path: Path) -> None:
    csv = (
        "1735689600000000,93576.00000000,93610.93000000,93537.50000000,"
        "93610.93000000,8.21827000,1735693199999999,768935.32200000,1505,"
        "4.51054000,422055.65600000,0\n"
    )
    stored = _import_one(emu, tmp_path, SPOT_PATH, csv)
    assert stored.to_dicts() == [
        {
            "ts": datetime(2025, 1, 1, tzinfo=UTC),
            "open": 93576.0,
            "high": 93610.93,
            "low": 93537.5,
            "close": 93610.93,
            "volume": 8.21827,
            "quote_volume": 768935.322,
            "trades": 1505,
            "taker_buy_base": 4.51054,
            "taker_buy_quote": 422055.656,
        }
    ]


# --- plan_archive known answers ----------------------------------------------------
def _labels(files: list[ArchiveFile] | tuple[ArchiveFile, ...]) -> list[str]:
    return [f.label for f in files]


def _utc(year: int, month: int, day: int, hour: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, 0, second, tzinfo=UTC)


PLANS = [
    # complete months monthly, the current month daily up to yesterday
    (
        "spot BTCUSDT klines 1h",
        (D(2024, 1, 15), D(2024, 3, 20), D(2024, 3, 4)),
        ["2024-01", "2024-02", "2024-03-01", "2024-03-02", "2024-03-03"],
    ),
    # end is exclusive: a range ending at midnight does not touch the next month
    (
        "um BTCUSDT klines 1h",
        (_utc(2024, 1, 31, 23), _utc(2024, 2, 1), D(2025, 1, 1)),
        ["2024-01"],
    ),
    (
        "um BTCUSDT klines 1h",
        (_utc(2024, 1, 31, 23), _utc(2024, 2, 1, 0, 1), D(2025, 1, 1)),
        ["2024-01", "2024-02"],
    ),
    # metrics are daily only, across a month boundary
    (
        "um BTCUSDT metrics",
        (D(2024, 1, 30), D(2024, 2, 2), D(2025, 1, 1)),
        ["2024-01-30", "2024-01-31", "2024-02-01"],
    ),
    # funding is monthly only: the current month is not in the archive
    (
        "um BTCUSDT fundingRate",
        (D(2023, 12, 15), D(2024, 3, 10), D(2024, 3, 4)),
        ["2023-12", "2024-01", "2024-02"],
    ),
    # year boundary
    (
        "um BTCUSDT klines 1d",
        (D(2024, 12, 30), D(2025, 1, 3), D(2025, 1, 2)),
        ["2024-12", "2025-01-01"],
    ),
    # today is the 1st: nothing of the new month is published
    (
        "spot ETHUSDT klines 15m",
        (D(2024, 2, 10), D(2024, 3, 5), D(2024, 3, 1)),
        ["2024-02"],
    ),
    # the range starts today or later: nothing to download
    ("spot BTCUSDT klines 1m", (D(2024, 3, 4), D(2024, 3, 9), D(2024, 3, 4)), []),
]


@pytest.mark.parametrize(("spec", "dates", "labels"), PLANS)
def test_plan_known_answers(
    spec: str, dates: tuple[Any, Any, date], labels: list[str]
) -> None:
    assert _labels(plan(spec, *dates)) == labels


def test_plan_fallback_days_of_the_previous_month() -> None:
    month, day = plan(
        "spot BTCUSDT klines 1h", D(2024, 2, 27), D(2024, 3, 3), D(2024, 3, 2)
    )
    assert _labels(month.fallback) == ["2024-02-27", "2024-02-28", "2024-02-29"]
    assert month.fallback[0].path == (
        "data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-02-27.zip"
    )
    assert (month.start, month.end) == (_utc(2024, 2, 1), _utc(2024, 3, 1))
    assert (day.label, day.fallback) == ("2024-03-01", ())
    assert (day.start, day.end) == (_utc(2024, 3, 1), _utc(2024, 3, 2))


def test_plan_older_months_and_funding_have_no_fallback() -> None:
    dates = (D(2024, 1, 1), D(2024, 3, 1), D(2024, 3, 2))
    funding = plan("um BTCUSDT fundingRate", *dates)
    klines = plan("um BTCUSDT klines 1h", *dates)
    assert [f.fallback for f in funding] == [(), ()]
    assert klines[0].fallback == () and len(klines[1].fallback) == 29


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        (
            "spot BTCUSDT klines 1h",
            "data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip",
        ),
        (
            "um BTCUSDT klines 1h",
            "data/futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip",
        ),
        ("um BTCUSDT fundingRate", FUNDING_PATH),
        ("um BTCUSDT metrics", METRICS_PATH),
    ],
)
def test_plan_paths(spec: str, path: str) -> None:
    first = plan(spec, D(2024, 1, 1), D(2024, 1, 2), D(2025, 1, 1))[0]
    assert first.path == path
    assert first.url("http://h/x/") == f"http://h/x/{path}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("spot", "BTCUSDT", "fundingRate"), "no 'fundingRate' files for spot"),
        (("um", "BTCUSDT", "metrics", "5m"), "metrics files have no interval"),
        (("um", "BTCUSDT", "klines", "1s"), "'1s' is not in the archive for um"),
        (("spot", "BTCUSDT", "klines", "1mo"), "interval '1mo'"),
        (("spot", "BTCUSDT", "klines"), "interval None"),
        (("spot", "BTC/USDT", "klines", "1h"), "not a Binance id"),
        (("cm", "BTCUSD_PERP", "klines", "1h"), "market type 'cm'"),
    ],
)
def test_plan_rejects_what_the_archive_does_not_have(
    args: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_archive(*args, start=D(2024, 1, 1), end=D(2024, 2, 1), today=TODAY)


def test_plan_rejects_naive_and_empty_ranges() -> None:
    spec = "spot BTCUSDT klines 1h"
    with pytest.raises(ConfigError, match="no time zone"):
        plan(spec, datetime(2024, 1, 1), D(2024, 2, 1), TODAY)
    with pytest.raises(ConfigError, match="range is empty"):
        plan(spec, D(2024, 2, 1), D(2024, 2, 1), TODAY)


def test_download_rejects_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        download_archive([], tmp_path, workers=0)
