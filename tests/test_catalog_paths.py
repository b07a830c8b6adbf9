"""Catalogs from anywhere: the lookup order (--catalogs → $PLANNER_CATALOGS → user cache
with catalogs → bundled snapshot), the platforms' cache directories, and the wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner import api
from planner.catalog.paths import (
    CatalogLocation,
    bundled_catalog_dir,
    refresh_target_dir,
    resolve_catalog_dir,
    user_cache_dir,
    user_catalog_dir,
)
from planner.cli.main import cli

REPO = Path(__file__).resolve().parent.parent
HOME = Path("/home/ada")


def test_cache_dir_follows_each_platform() -> None:
    assert user_cache_dir({}, "linux", HOME) == HOME / ".cache" / "planner"
    assert user_cache_dir({"XDG_CACHE_HOME": "/var/cache/ada"}, "linux", HOME) == Path(
        "/var/cache/ada/planner")
    # XDG: a relative value is invalid and ignored
    assert user_cache_dir({"XDG_CACHE_HOME": "rel"}, "linux", HOME) == HOME / ".cache" / "planner"
    assert user_cache_dir({}, "darwin", HOME) == HOME / "Library" / "Caches" / "planner"
    assert user_cache_dir({"LOCALAPPDATA": r"C:\Users\ada\AppData\Local"}, "win32", HOME) == Path(
        r"C:\Users\ada\AppData\Local") / "planner" / "Cache"
    assert user_catalog_dir({}, "linux", HOME) == HOME / ".cache" / "planner" / "catalogs"


def test_bundled_snapshot_is_the_repositorys_catalogs_in_a_checkout() -> None:
    assert bundled_catalog_dir().resolve() == (REPO / "catalogs").resolve()


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANNER_CATALOGS", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    assert resolve_catalog_dir() == CatalogLocation(bundled_catalog_dir(), "bundled snapshot")
    (cache / "planner" / "catalogs").mkdir(parents=True)
    assert resolve_catalog_dir().source == "bundled snapshot"  # an empty cache is skipped
    shutil.copy(REPO / "catalogs" / "aws.json", cache / "planner" / "catalogs")
    assert resolve_catalog_dir() == CatalogLocation(cache / "planner" / "catalogs", "user cache")
    monkeypatch.setenv("PLANNER_CATALOGS", str(tmp_path / "env"))
    assert resolve_catalog_dir() == CatalogLocation(tmp_path / "env", "$PLANNER_CATALOGS")
    assert resolve_catalog_dir(tmp_path / "flag") == CatalogLocation(tmp_path / "flag",
                                                                     "--catalogs")


def test_refresh_writes_to_the_user_cache_by_default(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.delenv("PLANNER_CATALOGS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert refresh_target_dir() == tmp_path / "planner" / "catalogs"
    assert refresh_target_dir(tmp_path / "out") == tmp_path / "out"
    monkeypatch.setenv("PLANNER_CATALOGS", str(tmp_path / "env"))
    assert refresh_target_dir() == tmp_path / "env"


def test_load_catalogs_works_from_any_directory(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANNER_CATALOGS", raising=False)
    monkeypatch.chdir(tmp_path)
    loaded = api.load_catalogs()
    assert sorted(c.catalog.provider for c in loaded) == ["aws", "azure"]


def test_plan_and_status_from_another_directory(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANNER_CATALOGS", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["plan", str(REPO / "examples" / "hospital-group.yaml"),
                                 "-o", "plan.json", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plan.json").exists()
    status = runner.invoke(cli, ["catalog", "status"])
    assert status.exit_code == 0, status.output
    assert f"reading catalogs from {bundled_catalog_dir()} (bundled snapshot)" in status.stdout


def test_status_names_the_user_cache_once_it_has_catalogs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANNER_CATALOGS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = tmp_path / "planner" / "catalogs"
    cache.mkdir(parents=True)
    shutil.copy(REPO / "catalogs" / "azure.json", cache)
    status = CliRunner().invoke(cli, ["catalog", "status"])
    assert status.exit_code == 0, status.output
    assert f"reading catalogs from {cache} (user cache)" in status.stdout
    assert "azure" in status.stdout and "aws.json" not in status.stdout


def test_build_copies_the_bundled_snapshot_into_the_package(tmp_path: Path) -> None:
    """The build hook (setup.py) puts catalogs/*.json into planner/_catalogs/ of the built
    package, byte for byte; .ci/run builds the real wheel, installs it into a fresh venv
    and plans from /tmp."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in"):
        shutil.copy(REPO / name, src)
    for folder in ("planner", "catalogs"):
        shutil.copytree(REPO / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", ".*"))
    build = tmp_path / "build"
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)],
                   check=True, cwd=src, capture_output=True)
    for name in ("aws.json", "azure.json", "README.md"):
        copied = build / "planner" / "_catalogs" / name
        assert copied.read_bytes() == (REPO / "catalogs" / name).read_bytes()
    assert (build / "planner" / "data" / "user_regions.json").exists()


def test_an_installed_package_reads_its_own_copy(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed from a wheel there is no catalogs/ next to the package: the copy in
    planner/_catalogs is found (simulated with a copy of the package)."""
    site = tmp_path / "site-packages"
    shutil.copytree(REPO / "planner", site / "planner",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "catalogs", site / "planner" / "_catalogs")
    code = ("import planner.catalog.paths as p, planner.api as a; "
            "print(p.bundled_catalog_dir()); print(len(a.load_catalogs()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                         capture_output=True, text=True,
                         env={"PYTHONPATH": str(site), "HOME": str(tmp_path),
                              "XDG_CACHE_HOME": str(tmp_path / "cache")}).stdout.split()
    assert out == [str(site / "planner" / "_catalogs"), "2"]


def test_refresh_without_out_fills_the_user_cache_which_is_then_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first refresh creates the cache, fetches the bundled snapshot's regions, leaves
    the bundled files alone; afterwards the cache is what the planner reads."""
    from tests.catalog.test_catalog_cli import install_fetcher
    from tests.catalog.test_store import make_catalog

    monkeypatch.delenv("PLANNER_CATALOGS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    bundled = (REPO / "catalogs" / "aws.json").read_bytes()
    calls = install_fetcher(monkeypatch, "aws", lambda r: make_catalog("aws", tuple(r)))
    result = CliRunner().invoke(cli, ["catalog", "refresh", "--provider", "aws"])
    assert result.exit_code == 0, result.output
    cache = tmp_path / "planner" / "catalogs"
    assert (cache / "aws.json").is_file()
    assert (REPO / "catalogs" / "aws.json").read_bytes() == bundled
    assert calls == [sorted(json.loads(bundled)["regions"])]
    assert resolve_catalog_dir() == CatalogLocation(cache, "user cache")
    status = CliRunner().invoke(cli, ["catalog", "status"])
    assert f"reading catalogs from {cache} (user cache)" in status.stdout
