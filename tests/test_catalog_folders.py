"""A catalog folder that is not one is an error, worded for where it was given.

``planner.load_catalogs(DIR)`` on an empty folder returned ``[]`` (the plan then failed
later with "no catalog loaded for cloud provider", or an on-prem portfolio planned
without the catalogs meant for it), and its errors told a Python caller to "pass
--catalogs DIR". Now an empty folder, a file (catalogs are read by folder) and a folder
that is not there are CatalogErrors whose hint names ``planner.load_catalogs`` in
Python, ``--catalogs`` on the command line and ``$PLANNER_CATALOGS`` when that chose it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import planner
from planner.cli.main import cli
from planner.errors import CatalogError, InputError

REPO = Path(__file__).resolve().parent.parent
CATALOGS = REPO / "catalogs"
CARMAKER = REPO / "examples" / "carmaker.yaml"


def _refused(directory: object) -> CatalogError:
    with pytest.raises(CatalogError) as err:
        planner.load_catalogs(directory)  # type: ignore[arg-type]
    assert err.value.exit_code == 2
    return err.value


def test_an_empty_folder_is_no_catalogs_not_an_empty_list(tmp_path: Path) -> None:
    for given in (tmp_path, str(tmp_path)):
        err = _refused(given)                                   # was: []
        assert err.source == str(tmp_path) and "no catalog files found" in err.message
        assert "aws.json" in err.message and "planner catalog refresh" in (err.hint or "")
        assert "planner.load_catalogs" in (err.hint or "") and "--catalogs" not in str(err)
    (tmp_path / "gcp.json").write_text("{}")                    # no provider's file either
    assert "no catalog files found" in _refused(tmp_path).message


def test_a_catalog_file_is_not_a_folder_and_the_hint_names_its_folder() -> None:
    err = _refused(CATALOGS / "aws.json")
    assert err.message == "a file, not a catalog directory"
    assert str(CATALOGS) in (err.hint or "")


def test_a_missing_folder_is_hinted_for_the_python_caller(tmp_path: Path) -> None:
    err = _refused(tmp_path / "none")
    assert err.message == "catalog directory not found"
    assert "planner.load_catalogs" in (err.hint or "") and "--catalogs" not in str(err)
    with pytest.raises(InputError, match="an empty path") as bad:  # was: the default lookup
        planner.load_catalogs("")
    assert bad.value.path == "directory"


def test_an_empty_folder_named_by_the_environment_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANNER_CATALOGS", str(tmp_path))
    err = _refused(None)
    assert "no catalog files found" in err.message and "$PLANNER_CATALOGS" in (err.hint or "")


def test_the_command_line_says_the_same_with_its_flag(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", str(CARMAKER), "--catalogs", str(tmp_path),
                                      "-q", "-o", str(tmp_path / "plan.json")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no catalog files found" in result.stderr            # was: "no catalog loaded
    assert "--catalogs DIR" in result.stderr                    # for cloud provider 'aws'"
    assert "planner.load_catalogs" not in result.stderr
    assert len(planner.load_catalogs(CATALOGS)) == 2            # a real folder still loads
