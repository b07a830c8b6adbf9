"""``planner init --with-schema`` never overwrites a schema file with other contents
unless --force (and then writes nothing at all)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from planner.cli.main import cli
from planner.models.schemas import schema_text


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


def test_refuses_to_overwrite_another_schema_file(tmp_path: Path) -> None:
    schema = tmp_path / "portfolio.schema.json"
    schema.write_text("my own edits\n")
    target = tmp_path / "team.yaml"
    code, err = run("init", str(target), "--with-schema")
    assert code == 2
    assert f"error: {schema}: file exists with other contents" in err and "--force" in err
    assert schema.read_text() == "my own edits\n"
    assert not target.exists()  # nothing half-written
    code, err = run("init", str(target), "--with-schema", "--force")
    assert code == 0, err
    assert schema.read_text() == schema_text("portfolio")


def test_the_same_schema_is_not_an_overwrite(tmp_path: Path) -> None:
    schema = tmp_path / "portfolio.schema.json"
    schema.write_text(schema_text("portfolio"))
    code, err = run("init", str(tmp_path / "team.yaml"), "--with-schema")
    assert code == 0, err
    assert (tmp_path / "team.yaml").exists()


def test_without_with_schema_the_schema_file_is_not_looked_at(tmp_path: Path) -> None:
    (tmp_path / "portfolio.schema.json").write_text("mine\n")
    code, err = run("init", str(tmp_path / "team.yaml"))
    assert code == 0, err
    assert (tmp_path / "portfolio.schema.json").read_text() == "mine\n"


def test_the_bundled_schemas_are_the_models_schemas() -> None:
    """planner/docs/schemas/ is what ``planner schema`` writes (it drifted: a changed
    range stayed out of the bundled file)."""
    docs = Path(__file__).resolve().parents[1] / "planner" / "docs" / "schemas"
    for kind in ("portfolio", "plan"):
        assert (docs / f"{kind}.schema.json").read_text() == schema_text(kind), kind
