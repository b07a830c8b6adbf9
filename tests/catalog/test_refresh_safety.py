"""Refresh edge cases: leftover temp files, empty regions, fetchers that return nothing,
and concurrent refreshes of the same catalog (one lock per catalog file)."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from planner.catalog.load import load_catalog_file
from planner.catalog.schema import CatalogFile
from planner.errors import CatalogFetchError, CatalogStoreError
from planner.refresh.lock import catalog_lock, holder_pid, is_locked, lock_path, temp_files
from planner.refresh.status import catalog_status, leftover_temp_files
from planner.refresh.store import (
    EMPTY_REGION_ERROR,
    MISSING_REGION_ERROR,
    default_refresh_regions,
    refresh_catalog,
    write_catalog,
)
from tests.catalog.lock_holder import hold_lock_then_hang
from tests.catalog.test_catalog_cli import install_fetcher, run
from tests.catalog.test_store import fake_fetcher, listing, make_catalog

REGIONS = ["us-east-1", "eu-central-1"]


@pytest.fixture
def old_aws(tmp_path: Path) -> tuple[Path, bytes]:
    """A directory holding a last good aws.json (2 regions x 5 rows); (path, its bytes)."""
    path = write_catalog(make_catalog(), tmp_path)
    return path, path.read_bytes()


def with_empty_region(catalog: CatalogFile, region: str) -> CatalogFile:
    """``catalog`` with ``region`` listed as fetched but without a single row."""
    return catalog.model_copy(update={
        "regions": sorted({*catalog.regions, region}),
        "rows": [r for r in catalog.rows if r.region != region]})


# ---------------------------------------------------------------- 1. leftover temp files


def plant(directory: Path, *names: str, size: int = 64) -> None:
    for name in names:
        (directory / name).write_bytes(b"x" * size)


def test_refresh_removes_only_its_own_leftover_temp_files(old_aws: tuple[Path, bytes]) -> None:
    path, _ = old_aws
    ours = [".aws.json.k3x9_q2a.tmp", ".aws.json.00000000.tmp"]
    others = [".aws.json.tmp", ".aws.json.ABCDEFGH.tmp", ".aws.json.abcdefghi.tmp",
              "aws.json.abcdefgh.tmp", ".azure.json.abcdefgh.tmp", ".aws.json.abcdefgh.tmp.bak",
              "notes.tmp"]
    plant(path.parent, *ours, *others)
    (path.parent / ".aws.json.dirdir00.tmp").mkdir()  # not a regular file: left alone
    (path.parent / ".aws.json.link0000.tmp").symlink_to(path.parent / "notes.tmp")
    said: list[str] = []
    result = refresh_catalog("aws", REGIONS, path.parent, fetch=fake_fetcher(make_catalog()),
                             notify=said.append)
    assert result.removed_temp_files == tuple(sorted(ours))
    assert any("removed 2 leftover temp file(s)" in s for s in said)
    assert set(listing(path.parent)) == {"aws.json", *others, ".aws.json.dirdir00.tmp",
                                         ".aws.json.link0000.tmp"}


def test_leftovers_are_removed_even_when_the_refresh_then_fails(
        old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    plant(path.parent, ".aws.json.deadbeef.tmp", size=12_000_000)

    def broken(regions: list[str], **_kw: Any) -> CatalogFile:
        raise TimeoutError("pricing endpoint timed out")

    with pytest.raises(CatalogFetchError):
        refresh_catalog("aws", REGIONS, path.parent, fetch=broken)
    assert listing(path.parent) == ["aws.json"] and path.read_bytes() == before


def test_status_mentions_leftovers(old_aws: tuple[Path, bytes]) -> None:
    path, _ = old_aws
    plant(path.parent, ".aws.json.deadbeef.tmp", size=12_000_000)
    [status] = catalog_status(path.parent)
    assert status.leftover_temp_files == {".aws.json.deadbeef.tmp": 12_000_000}
    [left] = leftover_temp_files(path.parent)
    assert not left.refreshing
    assert "1 leftover temp file(s) of an interrupted refresh (12.0 MB)" in left.message()
    result = run("status", "--catalogs", str(path.parent))
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and ".aws.json.deadbeef.tmp" in result.stderr
    assert "planner catalog refresh --provider aws` removes them" in result.stderr
    refresh_catalog("aws", REGIONS, path.parent, fetch=fake_fetcher(make_catalog()))
    clean = run("status", "--catalogs", str(path.parent))
    assert clean.exit_code == 0 and "warning" not in clean.stderr
    assert catalog_status(path.parent)[0].leftover_temp_files == {}


def test_status_tells_a_running_refresh_from_leftovers(old_aws: tuple[Path, bytes]) -> None:
    path, _ = old_aws
    plant(path.parent, ".aws.json.inflight.tmp")
    with catalog_lock(path):
        [left] = leftover_temp_files(path.parent)
        assert left.refreshing and left.refresh_pid == os.getpid()
        assert "a refresh is running (process" in left.message()
        assert catalog_status(path.parent)[0].leftover_temp_files == {}
    assert not leftover_temp_files(path.parent)[0].refreshing


def test_killed_refresh_leaves_no_stale_lock_and_its_temp_file_is_cleaned(
        old_aws: tuple[Path, bytes]) -> None:
    """A real second process holds the lock and is SIGKILLed mid-write."""
    path, before = old_aws
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=hold_lock_then_hang, args=(str(path), ready), daemon=True)
    child.start()
    try:
        assert ready.wait(60), "the lock holder did not start"
        assert is_locked(path) and holder_pid(path) == child.pid
        with pytest.raises(CatalogStoreError, match=f"being refreshed by process {child.pid}"):
            refresh_catalog("aws", REGIONS, path.parent, fetch=fake_fetcher(make_catalog()),
                            wait=False)
        assert len(temp_files(path)) == 1  # the live refresh's temp file is not touched
    finally:
        child.kill()
        child.join(30)
    assert not is_locked(path)  # the kernel released the dead holder's lock
    assert path.read_bytes() == before and len(temp_files(path)) == 1
    result = refresh_catalog("aws", REGIONS, path.parent, fetch=fake_fetcher(make_catalog()),
                             wait=False)
    assert len(result.removed_temp_files) == 1
    assert listing(path.parent) == ["aws.json"]


# ---------------------------------------------------------------- 2. regions with 0 rows


def test_region_back_with_zero_rows_is_a_lost_region(old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    # same row count (10): under the 20 % row-loss threshold, but eu-central-1 is empty
    new = with_empty_region(make_catalog(regions=("us-east-1",), rows_per_region=10),
                            "eu-central-1")
    with pytest.raises(CatalogStoreError,
                       match=r"lost region\(s\) eu-central-1 \(fetch failed: returned 0 rows"):
        refresh_catalog("aws", REGIONS, path.parent, fetch=fake_fetcher(new))
    assert path.read_bytes() == before
    result = refresh_catalog("aws", REGIONS, path.parent, fetch=fake_fetcher(new), force=True)
    assert result.forced and result.regions == ("us-east-1",)
    written = load_catalog_file(path).catalog
    assert written.regions == ["us-east-1"]
    assert [(f.region, f.error) for f in written.failed_regions] == [
        ("eu-central-1", EMPTY_REGION_ERROR)]
    assert default_refresh_regions(path.parent, "aws") == ["eu-central-1", "us-east-1"]


def test_new_region_with_zero_rows_is_not_recorded_as_fetched(
        old_aws: tuple[Path, bytes]) -> None:
    path, _ = old_aws
    new = with_empty_region(make_catalog(), "us-west-2")
    result = refresh_catalog("aws", [*REGIONS, "us-west-2"], path.parent,
                             fetch=fake_fetcher(new))
    assert "us-west-2" not in result.regions and result.diff.added_regions == ()
    assert ("us-west-2", EMPTY_REGION_ERROR) in result.failed_regions
    written = load_catalog_file(path).catalog
    assert "us-west-2" not in written.regions
    assert {f.region for f in written.failed_regions} == {"us-west-2"}


def test_requested_region_the_fetcher_left_out_is_failed(old_aws: tuple[Path, bytes]) -> None:
    path, _ = old_aws
    result = refresh_catalog("aws", [*REGIONS, "us-west-2"], path.parent,
                             fetch=fake_fetcher(make_catalog()))
    assert result.failed_regions == (("us-west-2", MISSING_REGION_ERROR),)


def test_write_catalog_demotes_an_empty_region(tmp_path: Path) -> None:
    path = write_catalog(with_empty_region(make_catalog(), "us-west-2"), tmp_path)
    written = load_catalog_file(path).catalog
    assert written.regions == ["eu-central-1", "us-east-1"]
    assert written.failed_regions[0].region == "us-west-2"


def test_cli_warns_about_a_new_empty_region(old_aws: tuple[Path, bytes],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = old_aws
    install_fetcher(monkeypatch, "aws", lambda r: with_empty_region(make_catalog(), "us-west-2"))
    result = run("refresh", "--provider", "aws", "--out", str(path.parent),
                 "--regions", "us-east-1,eu-central-1,us-west-2")
    assert result.exit_code == 0, result.output
    assert "warning: aws us-west-2: fetch failed: returned 0 rows" in result.stderr
    assert "2 region(s)" in result.stdout


# ---------------------------------------------------------------- 3. fetchers returning nothing


@pytest.mark.parametrize(("returned", "what"), [
    (None, r"returned nothing \(None\) instead of a catalog"),
    ([], "returned a list instead of a catalog"),
    ({}, "returned a dict instead of a catalog"),
    ("", "returned a str instead of a catalog"),
])
def test_fetcher_returning_nothing_is_a_fetch_error(old_aws: tuple[Path, bytes],
                                                    returned: Any, what: str) -> None:
    path, before = old_aws
    with pytest.raises(CatalogFetchError, match=what) as exc:
        refresh_catalog("aws", REGIONS, path.parent, fetch=lambda *_a, **_k: returned,
                        force=True)
    assert exc.value.exit_code == 4
    assert path.read_bytes() == before and listing(path.parent) == ["aws.json"]


def test_fetcher_returning_no_rows_is_a_fetch_error_even_forced(
        old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    empty = make_catalog(rows_per_region=0, failed={"eu-west-1": "throttled"},
                         regions=(*REGIONS, "eu-west-1"))
    with pytest.raises(CatalogFetchError, match=r"no rows for us-east-1.*eu-west-1: throttled"):
        refresh_catalog("aws", REGIONS, path.parent, fetch=fake_fetcher(empty), force=True)
    assert path.read_bytes() == before


@pytest.mark.parametrize("returned", [None, []])
def test_cli_fetcher_returning_nothing_exits_4(old_aws: tuple[Path, bytes], returned: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = old_aws
    install_fetcher(monkeypatch, "aws", lambda _r: returned)
    result = run("refresh", "--provider", "aws", "--out", str(path.parent))
    assert result.exit_code == 4, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith("error: the aws fetcher returned")
    assert path.read_bytes() == before


def test_cli_fetcher_returning_another_providers_catalog_exits_5_with_a_hint(
        old_aws: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = old_aws
    install_fetcher(monkeypatch, "aws", lambda _r: make_catalog("azure", ("eastus",)))
    result = run("refresh", "--provider", "aws", "--out", str(path.parent))
    assert result.exit_code == 5, result.output
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: the aws fetcher returned a 'azure' catalog (expected 'aws')")
    assert "(the last good catalog is kept; check that 'aws''s fetch entry point" in line
    assert "Traceback" not in result.output and path.read_bytes() == before


def test_cli_refuses_to_replace_a_corrupt_catalog_unless_forced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "aws.json"
    path.write_bytes(b'{"schema_version": 1, "provider": "aws", "rows": [')
    install_fetcher(monkeypatch, "aws", lambda _r: make_catalog())
    refused = run("refresh", "--provider", "aws", "--out", str(tmp_path), "--regions",
                  ",".join(REGIONS))
    assert refused.exit_code == 5, refused.output
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {path}: refusing to replace the last good catalog: the "
                           "last good catalog is corrupt (not valid JSON")
    assert "move it away" in line and "pass --force" in line and "Traceback" not in line
    assert path.read_bytes().endswith(b"[")
    forced = run("refresh", "--provider", "aws", "--out", str(tmp_path), "--regions",
                 ",".join(REGIONS), "--force")
    assert forced.exit_code == 0, forced.output
    assert "warning: accepted with --force despite: the last good catalog is corrupt" \
        in forced.stderr
    assert len(load_catalog_file(path).catalog.rows) == 10


# ---------------------------------------------------------------- 4. one refresh at a time


class BlockingFetcher:
    """A fetcher that records when it runs and blocks until released."""

    def __init__(self, name: str, catalog: CatalogFile, log: list[str]) -> None:
        self.name, self.catalog, self.log = name, catalog, log
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, regions: list[str], **_kw: Any) -> CatalogFile:
        self.log.append(f"{self.name} fetch")
        self.started.set()
        assert self.release.wait(30)
        return self.catalog


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["result"] = fn()
        except BaseException as exc:  # handed to the test thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


@pytest.fixture
def first_refresh(old_aws: tuple[Path, bytes]) -> Iterator[tuple[Path, BlockingFetcher,
                                                                 list[str]]]:
    """A refresh running in a thread, blocked inside its fetch (holding the lock)."""
    path, _ = old_aws
    log: list[str] = []
    first = BlockingFetcher("A", make_catalog(rows_per_region=6), log)
    thread, out = in_thread(lambda: refresh_catalog("aws", REGIONS, path.parent, fetch=first))
    assert first.started.wait(30)
    yield path, first, log
    first.release.set()
    thread.join(30)
    assert "error" not in out, out.get("error")


def test_second_refresh_waits_for_the_first(
        first_refresh: tuple[Path, BlockingFetcher, list[str]]) -> None:
    path, first, log = first_refresh
    second = BlockingFetcher("B", make_catalog(rows_per_region=7), log)
    second.release.set()
    waiting = threading.Event()
    said: list[str] = []

    def notify(message: str) -> None:
        said.append(message)
        waiting.set()

    thread, out = in_thread(lambda: refresh_catalog("aws", REGIONS, path.parent, fetch=second,
                                                    notify=notify))
    assert waiting.wait(30)
    assert said[0] == f"waiting for another refresh of aws.json (process {os.getpid()}) …"
    assert log == ["A fetch"]  # B has not started fetching
    first.release.set()
    thread.join(30)
    assert "error" not in out, out.get("error")
    assert log == ["A fetch", "B fetch"]
    assert out["result"].diff.old_rows == 12  # B compared against A's result, not the original
    assert len(load_catalog_file(path).catalog.rows) == 14


def test_no_wait_fails_at_once_naming_the_holder(
        first_refresh: tuple[Path, BlockingFetcher, list[str]]) -> None:
    path, _first, log = first_refresh
    before = path.read_bytes()
    with pytest.raises(CatalogStoreError,
                       match=f"being refreshed by process {os.getpid()}") as exc:
        refresh_catalog("aws", REGIONS, path.parent, fetch=fake_fetcher(make_catalog()),
                        wait=False)
    assert exc.value.exit_code == 5 and log == ["A fetch"] and path.read_bytes() == before


def test_wait_is_bounded(first_refresh: tuple[Path, BlockingFetcher, list[str]]) -> None:
    path, _first, log = first_refresh
    with pytest.raises(CatalogStoreError, match=r"gave up after 0.3 s waiting for another "
                                                r"refresh of aws.json \(process"):
        refresh_catalog("aws", REGIONS, path.parent, fetch=fake_fetcher(make_catalog()),
                        lock_timeout_s=0.3)
    assert log == ["A fetch"]


def test_write_catalog_takes_the_same_lock(
        first_refresh: tuple[Path, BlockingFetcher, list[str]]) -> None:
    path, _first, _log = first_refresh
    with pytest.raises(CatalogStoreError, match="being refreshed"):
        write_catalog(make_catalog(), path.parent, wait=False)


def test_locks_are_per_catalog_file(
        first_refresh: tuple[Path, BlockingFetcher, list[str]]) -> None:
    path, _first, _log = first_refresh
    result = refresh_catalog("azure", ["eastus"], path.parent, wait=False,
                             fetch=fake_fetcher(make_catalog("azure", ("eastus",))))
    assert result.rows == 5


def test_refreshes_through_two_links_to_one_catalog_exclude_each_other(
        tmp_path: Path) -> None:
    """Two catalog directories linking to one shared aws.json: the lock is next to the
    shared file, so a refresh through one link makes a refresh through the other wait."""
    shared = write_catalog(make_catalog(), tmp_path / "shared")
    links = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "aws.json").symlink_to(shared)
        links.append(tmp_path / name)
    log: list[str] = []
    first = BlockingFetcher("A", make_catalog(rows_per_region=6), log)
    thread, out = in_thread(lambda: refresh_catalog("aws", REGIONS, links[0], fetch=first))
    try:
        assert first.started.wait(30)
        with pytest.raises(CatalogStoreError,
                           match=f"being refreshed by process {os.getpid()}") as exc:
            refresh_catalog("aws", REGIONS, links[1], fetch=fake_fetcher(make_catalog()),
                            wait=False)
        assert exc.value.exit_code == 5 and log == ["A fetch"]
        assert is_locked(shared) and not is_locked(links[1] / "aws.json")
    finally:
        first.release.set()
        thread.join(30)
    assert "error" not in out, out.get("error")
    assert lock_path(shared).exists()
    assert not lock_path(links[0] / "aws.json").exists()
    assert all((d / "aws.json").is_symlink() for d in links)
    assert len(load_catalog_file(shared).catalog.rows) == 12


def test_status_finds_the_leftovers_of_a_linked_catalog(tmp_path: Path) -> None:
    shared = write_catalog(make_catalog(), tmp_path / "shared")
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "aws.json").symlink_to(shared)
    plant(shared.parent, ".aws.json.deadbeef.tmp")
    [left] = leftover_temp_files(tmp_path / "here")
    assert left.files == {".aws.json.deadbeef.tmp": 64} and not left.refreshing
    result = refresh_catalog("aws", REGIONS, tmp_path / "here",
                             fetch=fake_fetcher(make_catalog()))
    assert result.removed_temp_files == (".aws.json.deadbeef.tmp",)


def test_cli_no_wait_and_wait_timeout(old_aws: tuple[Path, bytes],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = old_aws
    calls = install_fetcher(monkeypatch, "aws", lambda r: make_catalog())
    with catalog_lock(path):
        busy = run("refresh", "--provider", "aws", "--out", str(path.parent), "--no-wait")
        waited = run("refresh", "--provider", "aws", "--out", str(path.parent),
                     "--wait-timeout", "0.2")
    assert busy.exit_code == 5 and waited.exit_code == 5
    assert (f"error: {path}: the catalog is being refreshed by process {os.getpid()}"
            in busy.stderr)
    assert "waiting for another refresh of aws.json" in waited.stderr
    assert "gave up after 0.2 s" in waited.stderr
    assert calls == [] and path.read_bytes() == before
    assert run("refresh", "--provider", "aws", "--out", str(path.parent),
               "--no-wait").exit_code == 0


def test_lock_file_records_the_holder_only_while_held(tmp_path: Path) -> None:
    path = tmp_path / "aws.json"
    with catalog_lock(path):
        assert holder_pid(path) == os.getpid() and is_locked(path)
    assert holder_pid(path) is None and not is_locked(path)
    assert lock_path(path).name == ".aws.json.lock"


def test_a_lock_file_that_is_not_a_file_says_to_remove_it(
        old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    lock = lock_path(path)
    lock.unlink()
    lock.mkdir()
    with pytest.raises(CatalogStoreError, match="cannot open the lock file") as exc:
        refresh_catalog("aws", REGIONS, path.parent, fetch=fake_fetcher(make_catalog()))
    assert str(lock) in str(exc.value) and "remove it" in str(exc.value)
    assert "directory must be writable" not in str(exc.value)
    assert path.read_bytes() == before
