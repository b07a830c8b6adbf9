"""The catalog store: deterministic bytes, atomic replace, refusal of shrunken catalogs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from planner.catalog.freshness import DEFAULT_MAX_AGE_DAYS, stale_catalogs
from planner.catalog.load import load_catalog_dir, load_catalog_file, parse_catalog
from planner.catalog.schema import (
    CatalogFile,
    CatalogRow,
    CatalogSource,
    EgressPrices,
    RegionFailure,
)
from planner.errors import CatalogError, CatalogFetchError, CatalogStoreError
from planner.refresh.status import catalog_status
from planner.refresh.store import (
    compare_catalogs,
    default_refresh_regions,
    refresh_catalog,
    serialize_catalog,
    write_catalog,
)
from planner.vocab.jurisdictions import region_country

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COUNTRY = {"us-east-1": "US", "eu-central-1": "DE", "eu-west-1": "IE", "us-west-2": "US",
           "eastus": "US", "westeurope": "NL", "germanywestcentral": "DE"}
GPU_TYPES = {
    "aws": [("p4d.24xlarge", "A100-40GB", 8, "32.7726"),
            ("p4de.24xlarge", "A100-80GB", 8, "40.9657"),
            ("g5.xlarge", "A10G", 1, "1.006"), ("p5.48xlarge", "H100", 8, "98.32")],
    "azure": [("Standard_NC24ads_A100_v4", "A100-80GB", 1, "3.673"),
              ("Standard_NC4as_T4_v3", "T4", 1, "0.526")],
}


def make_rows(provider: str, region: str, n: int) -> list[CatalogRow]:
    """``n`` rows: the provider's GPU types first, then plain CPU types."""
    rows = []
    for i in range(n):
        gpus = GPU_TYPES[provider]
        if i < len(gpus):
            itype, model, count, price = gpus[i]
            gpu: dict[str, Any] = {"gpu_model": model, "gpu_count": count, "gpu_vendor": "nvidia"}
        else:
            itype, price, gpu = f"m{i}.large", f"0.{i:03d}1", {}
        bump = Decimal("0.01") if region.startswith("eu") or region.startswith("west") else 0
        rows.append(CatalogRow(
            provider=provider, region=region, instance_type=itype, family=itype.split(".")[0],
            vcpus=4 * (i + 1), memory_gib=16.0 * (i + 1), price_per_hour=Decimal(price) + bump,
            spot_price_per_hour=(Decimal(price) / 3).quantize(Decimal("0.0001")) if i % 2 else None,
            country=region_country(provider, region) or COUNTRY.get(region, "US"), **gpu,
        ))
    return rows


def make_catalog(provider: str = "aws", regions: Sequence[str] = ("us-east-1", "eu-central-1"),
                 rows_per_region: int = 5, *, fetched_at: datetime | None = None,
                 failed: dict[str, str] | None = None) -> CatalogFile:
    """A small valid catalog; ``failed`` regions are listed as failures without rows."""
    failed = failed or {}
    rows = [r for reg in regions if reg not in failed
            for r in make_rows(provider, reg, rows_per_region)]
    return CatalogFile(
        schema_version=1, provider=provider,
        fetched_at=fetched_at or datetime.now(UTC) - timedelta(days=1),
        source=CatalogSource(apis=["test"], parameters={"regions": list(regions)}),
        regions=[r for r in regions if r not in failed],
        failed_regions=[RegionFailure(region=r, error=e) for r, e in failed.items()],
        egress=EgressPrices(same_provider_per_gb=Decimal("0.02"), internet_per_gb=Decimal("0.09")),
        rows=rows,
    )


def fake_fetcher(catalog: CatalogFile) -> Callable[..., CatalogFile]:
    """A fetcher returning ``catalog`` and reporting progress per region."""

    def fetch(regions: list[str], *, progress: Callable[..., Any] | None = None) -> CatalogFile:
        for region in regions:
            if progress:
                progress(region, "ok")
        return catalog

    return fetch


def listing(directory: Path) -> list[str]:
    """The directory's files except the lock files (which stay, by design)."""
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(".json.lock"))


@pytest.fixture
def old_aws(tmp_path: Path) -> tuple[Path, bytes]:
    """A directory holding a last good aws.json; returns (path, its bytes)."""
    path = write_catalog(make_catalog(), tmp_path)
    return path, path.read_bytes()


# ---------------------------------------------------------------- serialization


def test_serialization_is_deterministic_exact_and_loadable(tmp_path: Path) -> None:
    cat = make_catalog()
    data = serialize_catalog(cat)
    assert data == serialize_catalog(cat.model_copy(update={"rows": list(reversed(cat.rows))}))
    assert data.endswith(b"}\n")
    assert data.decode() == json.dumps(json.loads(data), indent=1) + "\n"  # indent=1 layout
    assert b'"price_per_hour": 32.7726,' in data and b'"internet_per_gb": 0.09' in data
    path = write_catalog(cat, tmp_path)
    loaded = load_catalog_file(path).catalog
    assert {r.price_per_hour for r in loaded.rows} == {r.price_per_hour for r in cat.rows}
    again = write_catalog(loaded, tmp_path / "again")  # a reload is a fixpoint
    assert serialize_catalog(load_catalog_file(again).catalog) == again.read_bytes()


def test_decimal_without_float_noise(tmp_path: Path) -> None:
    cat = make_catalog(rows_per_region=1)
    cat.rows[0].price_per_hour = Decimal("0.1") + Decimal("0.2")
    assert b'"price_per_hour": 0.3,' in serialize_catalog(cat)


# ---------------------------------------------------------------- atomic writes


def test_first_write_creates_directory_and_leaves_no_temp(tmp_path: Path) -> None:
    path = write_catalog(make_catalog("azure", ("eastus",)), tmp_path / "new")
    assert path.name == "azure.json"
    assert listing(path.parent) == ["azure.json"]


def test_a_catalog_linked_from_elsewhere_is_refreshed_through_the_link(tmp_path: Path
                                                                        ) -> None:
    shared = write_catalog(make_catalog(), tmp_path / "shared")
    (tmp_path / "here").mkdir()
    link = tmp_path / "here" / "aws.json"
    link.symlink_to(shared)
    newer = make_catalog(rows_per_region=6)
    write_catalog(newer, tmp_path / "here")
    assert link.is_symlink() and link.resolve() == shared.resolve()
    assert len(load_catalog_file(shared).catalog.rows) == len(newer.rows)
    assert listing(shared.parent) == ["aws.json"]


def test_a_dangling_catalog_link_names_its_missing_target(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    link = tmp_path / "here" / "aws.json"
    missing = tmp_path / "shared" / "aws.json"
    link.symlink_to(missing)
    with pytest.raises(CatalogError) as exc:
        load_catalog_dir(tmp_path / "here")
    assert exc.value.exit_code == 2
    assert "No such file" not in str(exc.value)
    assert str(exc.value).startswith(
        f"{link}: the catalog path is a symlink to a missing target: {missing}")
    assert "is the shared folder mounted?" in str(exc.value)
    (status,) = catalog_status(tmp_path / "here")
    assert status.error and f"symlink to a missing target: {missing}" in status.error


def test_a_dangling_catalog_link_is_written_through_when_its_folder_exists(
        tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "here").mkdir()
    link = tmp_path / "here" / "aws.json"
    link.symlink_to(tmp_path / "shared" / "aws.json")
    said: list[str] = []
    refresh_catalog("aws", ["us-east-1", "eu-central-1"], tmp_path / "here",
                    fetch=fake_fetcher(make_catalog()), notify=said.append)
    assert link.is_symlink() and len(load_catalog_file(link).catalog.rows) == 10
    assert any("symlink to a missing target" in s for s in said)


def test_a_dangling_catalog_link_into_a_missing_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    link = tmp_path / "here" / "aws.json"
    missing = tmp_path / "unmounted" / "catalogs" / "aws.json"
    link.symlink_to(missing)
    for store in (lambda: write_catalog(make_catalog(), tmp_path / "here", force=True),
                  lambda: refresh_catalog("aws", ["us-east-1"], tmp_path / "here",
                                          fetch=fake_fetcher(make_catalog()))):
        with pytest.raises(CatalogStoreError,
                           match=f"symlink to a missing target: {missing}") as exc:
            store()
        assert exc.value.exit_code == 5 and "nothing was written" in str(exc.value)
    assert not (tmp_path / "unmounted").exists()  # the shared folder is not made up
    assert link.is_symlink() and listing(tmp_path / "here") == ["aws.json"]


def test_failed_replace_keeps_old_file_and_removes_temp(
        old_aws: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = old_aws

    def broken_replace(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(CatalogStoreError, match="No space left") as exc:
        write_catalog(make_catalog(rows_per_region=6), path.parent)
    assert exc.value.exit_code == 5
    assert path.read_bytes() == before
    assert listing(path.parent) == ["aws.json"]


def test_failed_fsync_keeps_old_file(old_aws: tuple[Path, bytes],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = old_aws

    def broken_fsync(_fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(CatalogStoreError):
        write_catalog(make_catalog(rows_per_region=6), path.parent)
    assert path.read_bytes() == before
    assert listing(path.parent) == ["aws.json"]


def test_invalid_catalog_is_never_written(old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    bad = make_catalog()
    bad.rows[3] = CatalogRow.model_construct(**{**bad.rows[3].__dict__,
                                                "price_per_hour": Decimal("-1")})
    with pytest.raises(CatalogStoreError,
                       match=r"rows\[9\].*\(us-east-1/p5.48xlarge\).*must not be negative"):
        write_catalog(bad, path.parent, force=True)
    assert path.read_bytes() == before


def test_refresh_whose_fetch_fails_halfway_keeps_old_file(old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    seen: list[str] = []

    def fetch(regions: list[str], *, progress: Callable[..., Any] | None = None) -> CatalogFile:
        seen.append(regions[0])
        raise RuntimeError(f"throttled while reading {regions[1]}")

    with pytest.raises(CatalogFetchError, match="throttled while reading eu-central-1") as exc:
        refresh_catalog("aws", ["us-east-1", "eu-central-1"], path.parent, fetch=fetch)
    assert exc.value.exit_code == 4
    assert seen == ["us-east-1"]
    assert path.read_bytes() == before
    assert listing(path.parent) == ["aws.json"]


def test_refresh_passes_planner_errors_through(old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws

    def fetch(regions: list[str], **_kw: Any) -> CatalogFile:
        raise CatalogFetchError("AccessDenied: not authorized to call pricing:GetProducts")

    with pytest.raises(CatalogFetchError, match=r"^AccessDenied"):
        refresh_catalog("aws", ["us-east-1"], path.parent, fetch=fetch)
    assert path.read_bytes() == before


def test_refresh_success_reports_result(old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    calls: list[tuple[Any, ...]] = []
    new = make_catalog(regions=("us-east-1", "eu-central-1", "us-west-2"))
    result = refresh_catalog("aws", ["us-east-1", "eu-central-1", "us-west-2"], path.parent,
                             fetch=fake_fetcher(new), progress=lambda *a: calls.append(a))
    assert len(calls) == 3
    assert result.rows == 15 and result.diff.old_rows == 10
    assert result.diff.added_regions == ("us-west-2",)
    assert not result.forced
    assert path.read_bytes() != before and listing(path.parent) == ["aws.json"]


def test_refresh_rejects_wrong_provider_with_a_hint(old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    with pytest.raises(CatalogStoreError,
                       match=r"aws fetcher returned a 'azure' catalog \(expected 'aws'\)") as exc:
        refresh_catalog("aws", ["eastus"], path.parent,
                        fetch=fake_fetcher(make_catalog("azure", ("eastus",))))
    assert exc.value.exit_code == 5
    assert exc.value.hint is not None
    assert "last good catalog is kept" in exc.value.hint
    assert "planner.providers.aws.fetch:fetch_aws" in exc.value.hint
    assert path.read_bytes() == before


# ---------------------------------------------------------------- refusing shrunken catalogs


def test_lost_region_is_refused_then_forced(old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    smaller = make_catalog(regions=("us-east-1",), rows_per_region=10)  # same row count
    with pytest.raises(CatalogStoreError, match=r"lost region\(s\) eu-central-1.*--force") as exc:
        write_catalog(smaller, path.parent)
    assert exc.value.exit_code == 5
    assert path.read_bytes() == before
    write_catalog(smaller, path.parent, force=True)
    assert load_catalog_file(path).catalog.regions == ["us-east-1"]


def test_failed_region_in_old_catalog_counts_as_lost(old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    partial = make_catalog(failed={"eu-central-1": "RequestLimitExceeded"}, rows_per_region=10)
    with pytest.raises(CatalogStoreError,
                       match="eu-central-1 \\(fetch failed: RequestLimitExceeded\\)"):
        refresh_catalog("aws", ["us-east-1", "eu-central-1"], path.parent,
                        fetch=fake_fetcher(partial))
    assert path.read_bytes() == before
    result = refresh_catalog("aws", ["us-east-1", "eu-central-1"], path.parent,
                             fetch=fake_fetcher(partial), force=True)
    assert result.forced and result.failed_regions == (("eu-central-1", "RequestLimitExceeded"),)


def test_row_loss_over_limit_is_refused(old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws  # 10 rows
    with pytest.raises(CatalogStoreError, match=r"rows 10 -> 7 \(-30.0%, more than the 20%"):
        write_catalog(_rows(7), path.parent)
    assert path.read_bytes() == before
    write_catalog(_rows(8), path.parent)  # exactly 20 % lost is allowed
    assert len(load_catalog_file(path).catalog.rows) == 8


def test_row_loss_limit_is_configurable(old_aws: tuple[Path, bytes]) -> None:
    path, _ = old_aws
    write_catalog(_rows(7), path.parent, max_row_loss=0.5)
    with pytest.raises(CatalogStoreError, match="between 0 and 1"):
        write_catalog(_rows(7), path.parent, max_row_loss=1.5)


def test_rows_lost_in_one_region_are_not_made_up_by_another(tmp_path: Path) -> None:
    path = write_catalog(make_catalog(rows_per_region=10), tmp_path)  # 2 regions, 20 rows
    before = path.read_bytes()
    grown = make_catalog(regions=("us-east-1", "us-west-2"), rows_per_region=10)
    shrunk = make_catalog(regions=("eu-central-1",), rows_per_region=2)  # 8 of its 10 gone
    new = grown.model_copy(update={"regions": ["eu-central-1", "us-east-1", "us-west-2"],
                                   "rows": grown.rows + shrunk.rows})
    with pytest.raises(CatalogStoreError,
                       match=r"rows 20 -> 22, 8 of the old ones gone \(-40.0%, more than"):
        write_catalog(new, tmp_path)
    assert path.read_bytes() == before
    write_catalog(new, tmp_path, max_row_loss=0.4)


def _repriced(cat: CatalogFile, factor: Decimal, *, rows: int | None = None,
              kinds: Sequence[str] = ("price_per_hour", "spot_price_per_hour")) -> CatalogFile:
    """``cat`` with the given prices of its first ``rows`` rows (all: None) times ``factor``."""
    out = []
    for i, r in enumerate(cat.rows):
        if rows is None or i < rows:
            r = r.model_copy(update={k: getattr(r, k) * factor for k in kinds
                                     if getattr(r, k) is not None})
        out.append(r)
    return cat.model_copy(update={"rows": out})


@pytest.mark.parametrize(("factor", "median"), [(Decimal(2), "2"), (Decimal("0.5"), "0.5"),
                                                (Decimal("0.012"), "0.012"),  # INR as USD
                                                (Decimal(730), "730")])  # per month
def test_every_price_moved_by_a_factor_is_refused_then_forced(
        tmp_path: Path, factor: Decimal, median: str) -> None:
    old = make_catalog(rows_per_region=10)
    path = write_catalog(old, tmp_path)
    before = path.read_bytes()
    moved = old.model_copy(update={"rows": [  # prices beyond the schema's 1000 USD/h stay
        r.model_copy(update={"price_per_hour": r.price_per_hour * factor})
        if (r.price_per_hour or 0) * factor <= 1000 else r for r in old.rows]})
    with pytest.raises(CatalogStoreError) as exc:
        write_catalog(moved, tmp_path)
    text = str(exc.value)
    assert exc.value.exit_code == 5 and path.read_bytes() == before
    assert f"on-demand prices moved by a median factor of {median} over 20 shared" in text
    assert ".large 0.0" in text  # examples of the moves, with old and new prices
    assert "currency or unit change" in text and "pass --force to accept it" in text
    write_catalog(moved, tmp_path, force=True)
    assert load_catalog_file(path).catalog == moved.model_copy(
        update={"rows": sorted(moved.rows, key=lambda r: (r.region, r.instance_type))})


def test_real_price_changes_pass_the_price_guard(old_aws: tuple[Path, bytes]) -> None:
    """A 45 % cut on the GPU families (AWS P4/P5, June 2024) and spot prices moving
    freely: the median of the catalog barely moves."""
    path, _ = old_aws
    cut = _repriced(make_catalog(), Decimal("0.55"), rows=4, kinds=("price_per_hour",))
    new = _repriced(cut, Decimal("1.9"), kinds=("spot_price_per_hour",))
    write_catalog(new, path.parent)
    diff = compare_catalogs(make_catalog(), new)
    on_demand = diff.prices[0]
    assert (on_demand.kind, on_demand.shared, on_demand.median_ratio) == ("on-demand", 10, 1.0)
    assert diff.problems == ()


def test_prices_that_drop_to_zero_are_refused_with_their_own_message(
        old_aws: tuple[Path, bytes]) -> None:
    path, before = old_aws
    one_zero = _repriced(make_catalog(), Decimal(0), rows=1, kinds=("price_per_hour",))
    with pytest.raises(CatalogStoreError) as exc:
        write_catalog(one_zero, path.parent)
    assert ("1 of 14 shared prices are 0 USD/h now but were not before (on-demand 1; e.g. "
            "on-demand us-east-1/p4d.24xlarge 32.7726 -> 0)") in str(exc.value)
    assert "feed returned 0" in str(exc.value) and "median factor" not in str(exc.value)
    all_zero = _repriced(make_catalog(), Decimal(0))
    with pytest.raises(CatalogStoreError, match=r"14 of 14 shared prices are 0 USD/h now "
                                                r"but were not before \(on-demand 10, spot 4;"):
        write_catalog(all_zero, path.parent)
    assert path.read_bytes() == before
    result = refresh_catalog("aws", ["us-east-1", "eu-central-1"], path.parent,
                             fetch=fake_fetcher(all_zero), force=True)
    assert result.forced and "are 0 USD/h now" in result.diff.problems[0]


def test_cli_refuses_a_doubled_catalog(old_aws: tuple[Path, bytes],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.catalog.test_catalog_cli import install_fetcher, run

    path, before = old_aws
    install_fetcher(monkeypatch, "aws", lambda _r: _repriced(make_catalog(), Decimal(2)))
    result = run("refresh", "--provider", "aws", "--out", str(path.parent))
    assert result.exit_code == 5, result.output
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {path}: refusing to replace the last good catalog: "
                           "on-demand prices moved by a median factor of 2 over 10 shared")
    assert "--force" in line and path.read_bytes() == before
    forced = run("refresh", "--provider", "aws", "--out", str(path.parent), "--force")
    assert forced.exit_code == 0 and "accepted with --force despite: on-demand" in forced.stderr


def test_empty_catalog_is_never_written(tmp_path: Path) -> None:
    empty = make_catalog(rows_per_region=0)
    for force in (False, True):
        with pytest.raises(CatalogStoreError, match="rows: the catalog has no rows"):
            write_catalog(empty, tmp_path, force=force)
    assert listing(tmp_path) == []


def test_corrupt_old_file_is_refused_then_forced(tmp_path: Path) -> None:
    """A corrupt old file cannot guard anything: it is not silently treated as missing."""
    path = tmp_path / "aws.json"
    path.write_text("{not json")
    with pytest.raises(CatalogStoreError) as exc:
        write_catalog(make_catalog(), tmp_path)
    text = str(exc.value)
    assert exc.value.exit_code == 5
    assert "refusing to replace the last good catalog: the last good catalog is corrupt " \
           "(not valid JSON" in text
    assert "move it away" in text and "--force" in text
    assert path.read_text() == "{not json"
    write_catalog(make_catalog(), tmp_path, force=True)
    assert len(load_catalog_file(path).catalog.rows) == 10


def test_unreadable_old_file_is_refused_then_forced_readable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied on the old file: refused (exit 5); forced, the new file does not
    inherit a mode that leaves it unreadable."""
    path = write_catalog(make_catalog(), tmp_path)
    before = path.read_bytes()
    path.chmod(0o000)
    real_open = Path.open

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:  # what a non-root user sees (the tests may run as root)
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(CatalogStoreError) as exc:
        refresh_catalog("aws", ["us-east-1", "eu-central-1"], tmp_path,
                        fetch=fake_fetcher(make_catalog(rows_per_region=6)))
    text = str(exc.value)
    assert exc.value.exit_code == 5
    assert "the last good catalog cannot be read (cannot read catalog: Permission denied)" in text
    assert "make it readable for this user" in text and "--force" in text
    monkeypatch.undo()
    assert path.read_bytes() == before and path.stat().st_mode & 0o777 == 0
    monkeypatch.setattr(Path, "open", denied)
    result = refresh_catalog("aws", ["us-east-1", "eu-central-1"], tmp_path,
                             fetch=fake_fetcher(make_catalog(rows_per_region=6)), force=True)
    assert result.forced and "cannot be read" in result.diff.problems[0]
    monkeypatch.undo()
    assert path.stat().st_mode & 0o400
    assert len(load_catalog_file(path).catalog.rows) == 12


def test_a_linked_catalog_under_another_name_still_guards(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "prod-aws.json"
    shared.parent.mkdir()
    shared.write_bytes(serialize_catalog(make_catalog()))
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "aws.json").symlink_to(shared)
    with pytest.raises(CatalogStoreError, match=r"lost region\(s\) eu-central-1"):
        write_catalog(make_catalog(regions=("us-east-1",), rows_per_region=10), tmp_path / "here")
    assert default_refresh_regions(tmp_path / "here", "aws") == ["eu-central-1", "us-east-1"]


def test_file_holding_another_providers_catalog_guards_nothing(tmp_path: Path) -> None:
    """aws.json holding the azure catalog (a copied file) is refused by the loader and
    flagged by status; a refresh replaces it instead of calling azure's regions lost."""
    write_catalog(make_catalog("azure", ("eastus", "westeurope")), tmp_path)
    os.replace(tmp_path / "azure.json", tmp_path / "aws.json")
    (status,) = catalog_status(tmp_path)
    assert status.error and "holds the 'azure' catalog, not 'aws'" in status.error
    assert default_refresh_regions(tmp_path, "aws")[0] != "eastus"
    refresh_catalog("aws", ["us-east-1", "eu-central-1"], tmp_path,
                    fetch=fake_fetcher(make_catalog()))
    assert load_catalog_file(tmp_path / "aws.json").catalog.provider == "aws"


def test_compare_without_old_catalog() -> None:
    diff = compare_catalogs(None, make_catalog())
    assert diff.problems == () and diff.row_loss == 0.0
    assert diff.added_regions == ("eu-central-1", "us-east-1")


def _rows(n: int) -> CatalogFile:
    """An aws catalog over the same two regions with ``n`` rows in total."""
    cat = make_catalog(rows_per_region=5)
    return cat.model_copy(update={"rows": cat.rows[:n]})


# ---------------------------------------------------------------- staleness and status


def test_stale_catalog_yields_warning(tmp_path: Path) -> None:
    write_catalog(make_catalog(fetched_at=NOW - timedelta(days=45)), tmp_path)
    write_catalog(make_catalog("azure", ("eastus",), fetched_at=NOW - timedelta(days=2)),
                  tmp_path)
    loaded = [load_catalog_file(tmp_path / f) for f in ("aws.json", "azure.json")]
    warnings = stale_catalogs(loaded, DEFAULT_MAX_AGE_DAYS, NOW)
    assert len(warnings) == 1
    assert "aws.json" in warnings[0] and "45 days ago" in warnings[0]
    assert "planner catalog refresh --provider aws" in warnings[0]
    assert stale_catalogs(loaded, 60, NOW) == []
    assert "future" in stale_catalogs(loaded, 30, NOW - timedelta(days=10))[-1]


def test_catalog_status(tmp_path: Path) -> None:
    failed = {"us-west-2": "AuthFailure"}
    write_catalog(make_catalog(regions=("us-east-1", "eu-central-1", "us-west-2"), failed=failed,
                               fetched_at=NOW - timedelta(days=40)), tmp_path)
    (tmp_path / "azure.json").write_text("[")
    aws, azure = catalog_status(tmp_path, now=NOW)
    assert (aws.provider, aws.rows, aws.regions, aws.gpu_rows) == ("aws", 10, 2, 8)
    assert aws.stale and round(aws.age_days or 0) == 40 and len(aws.sha256 or "") == 12
    assert aws.failed_regions == failed
    assert aws.to_dict()["fetched_at"] == "2026-01-20T12:00:00Z"
    assert azure.error and "azure.json" in azure.error and "not valid JSON" in azure.error
    assert not catalog_status(tmp_path, now=NOW, max_age_days=50)[0].stale
    with pytest.raises(CatalogError, match="not found"):
        catalog_status(tmp_path / "missing")


def test_corrupt_rows_are_named(tmp_path: Path) -> None:
    path = write_catalog(make_catalog(), tmp_path)
    data = json.loads(path.read_bytes())
    data["rows"][2]["price_per_hour"] = -0.5
    raw = json.dumps(data).encode()
    with pytest.raises(CatalogError) as exc:
        parse_catalog(raw, path)
    assert str(path) in str(exc.value) and "rows[2]" in str(exc.value)
    assert data["rows"][2]["instance_type"] in str(exc.value)


def test_default_refresh_regions(tmp_path: Path) -> None:
    assert default_refresh_regions(tmp_path, "azure") == ["eastus", "westeurope",
                                                          "germanywestcentral"]
    write_catalog(make_catalog(regions=("us-east-1", "eu-west-1"), failed={"eu-west-1": "x"}),
                  tmp_path)
    assert default_refresh_regions(tmp_path, "aws") == ["eu-west-1", "us-east-1"]
