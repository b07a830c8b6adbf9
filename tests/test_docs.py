"""Doc examples must not rot: every ``planner …`` command shown in a ```sh block of
README.md or planner/docs/guide.md runs, in order, in one scratch directory.

The scratch directory, outside the repository, holds a copy of ``examples/`` only (no
``catalogs/``, no $PLANNER_CATALOGS: the bundled snapshot is found as from anywhere), so
a later command can use files an earlier one wrote (``plan.json`` → ``planner verify …
plan.json``). Lines may chain commands with ``&&``; only the
``planner`` parts run (installing and activating a venv is the CI's job). A command
is expected to exit 0 unless its line documents another code in a trailing comment,
e.g. ``planner plan infeasible.yaml -o x.json   # exit code 3``. ``> FILE`` redirects
stdout into the scratch directory; other shell syntax (pipes, ``$(…)``) is refused so
that the docs stay copy-pasteable *and* testable.

Commands that need the network are listed in NEEDS_NETWORK with the reason; for them
only ``--help`` of the command is checked (the command exists and its docs render).
Afterwards the ```python blocks run in the same directory, so the API examples work too.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli.main import cli

REPO = Path(__file__).resolve().parent.parent
DOCS = (REPO / "README.md", REPO / "planner" / "docs" / "guide.md")

# Commands (by prefix) that are not run here, and why.
NEEDS_NETWORK = {
    "planner catalog refresh": "fetches live prices from the AWS and Azure APIs (network and "
    "credentials); tests/catalog/ covers it offline with recorded API responses",
}

BLOCK = re.compile(r"^```(?:sh|bash|shell)[ \t]*\n(.*?)^```", re.M | re.S)
PYTHON = re.compile(r"^```python[ \t]*\n(.*?)^```", re.M | re.S)
EXIT = re.compile(r"#.*?\bexit(?:s| code| status)?\s*(\d+)", re.I)
UNSUPPORTED = ("|", "<", ";", "$(", "`", "&&", "||")


@dataclass(frozen=True)
class DocCommand:
    source: str  # file:line
    text: str
    expected: int

    @property
    def excluded(self) -> str | None:
        """The NEEDS_NETWORK prefix this command starts with, if any."""
        for prefix in NEEDS_NETWORK:
            if self.text == prefix or self.text.startswith(prefix + " "):
                return prefix
        return None


def _lines(block: str, first_line: int) -> list[tuple[int, str]]:
    """Logical lines of a shell block (backslash continuations joined)."""
    out, pending, start = [], "", first_line
    for offset, raw in enumerate(block.splitlines()):
        if not pending:
            start = first_line + offset
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        out.append((start, pending + raw))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def doc_commands(path: Path) -> list[DocCommand]:
    """Every ``planner …`` command in the file's ```sh blocks, in order."""
    text = path.read_text("utf-8")
    found = []
    for block in BLOCK.finditer(text):
        first = text.count("\n", 0, block.start(1)) + 1
        for number, line in _lines(block.group(1), first):
            code_part, _, comment = line.partition(" #")
            if line.lstrip().startswith("#"):
                continue
            match = EXIT.search("#" + comment) if comment else None
            expected = int(match.group(1)) if match else 0
            for part in code_part.split("&&"):
                part = part.strip()
                if part.startswith("planner "):
                    found.append(DocCommand(f"{path.relative_to(REPO)}:{number}", part, expected))
    return found


def all_commands() -> list[DocCommand]:
    return [c for doc in DOCS if doc.exists() for c in doc_commands(doc)]


def split_command(cmd: DocCommand) -> tuple[list[str], str | None]:
    """argv after ``planner``, and the file stdout is redirected to (if any)."""
    for token in UNSUPPORTED:
        if token in cmd.text:
            raise AssertionError(
                f"{cmd.source}: `{cmd.text}` uses {token!r}; doc commands must be plain "
                "`planner …` invocations (optionally `> FILE`) so that this test can run them"
            )
    argv = shlex.split(cmd.text, comments=True)[1:]
    target = None
    for i, token in enumerate(argv):
        if token.startswith(">"):
            rest = token.lstrip(">") or (argv[i + 1] if i + 1 < len(argv) else "")
            assert rest, f"{cmd.source}: redirect without a file"
            target, argv = rest, argv[:i]
            break
    return argv, target


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    # Outside the repository, with no catalogs/ here and no $PLANNER_CATALOGS: the
    # commands find the bundled snapshot themselves (the user cache is an empty temp dir).
    monkeypatch.delenv("PLANNER_CATALOGS", raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    return tmp_path


def test_docs_show_planner_commands() -> None:
    commands = all_commands()
    sources = {c.source.split(":")[0] for c in commands}
    assert sources == {"README.md", "planner/docs/guide.md"}, sources
    assert len(commands) >= 15
    for prefix in NEEDS_NETWORK:  # every exclusion matches a documented command
        assert any(c.text.startswith(prefix) for c in commands), f"stale exclusion {prefix!r}"


def test_every_documented_command_runs(scratch: Path) -> None:
    runner = CliRunner()
    failures = []
    ran = 0
    for cmd in all_commands():
        argv, target = split_command(cmd)
        if cmd.excluded:  # not run: check that the command exists and its help renders
            argv = [*cmd.excluded.split()[1:], "--help"]
        result = runner.invoke(cli, argv, prog_name="planner")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            failures.append(f"{cmd.source}: `{cmd.text}` raised {result.exception!r}")
            continue
        expected = 0 if cmd.excluded else cmd.expected
        if result.exit_code != expected:
            failures.append(
                f"{cmd.source}: `{cmd.text}` exited {result.exit_code}, expected {expected}\n"
                f"  stderr: {result.stderr.strip()[-600:]}"
            )
        elif target and not cmd.excluded:
            (scratch / target).write_text(result.stdout, "utf-8")
        ran += 1
    assert not failures, "\n".join(failures)
    assert ran >= 15
    for doc in DOCS:
        for number, block in enumerate(PYTHON.findall(doc.read_text("utf-8")), start=1):
            name = f"{doc.relative_to(REPO)}, python block {number}"
            exec(compile(block, name, "exec"), {"__name__": "__doc_example__"})
