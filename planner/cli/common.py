"""Pieces every ``planner`` command shares: one-line errors, the catalogs option,
errors that name the portfolio file, and writing output files."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from planner.errors import InputError, PlannerError, with_source

F = TypeVar("F", bound=Callable[..., Any])


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def last_resort(exc: BaseException) -> str | None:
    """One line for the errors input can still cause past the real checks (a safety net:
    reading bounds size, nesting and encoding first), or None for everything else."""
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to process"
    if isinstance(exc, MemoryError):
        return ("out of memory while processing the input: is it the right file? A "
                "portfolio this large needs more memory, or split it by team or region "
                "(200,000 stages × 200 sites did not fit in 18 GiB)")
    if isinstance(exc, UnicodeError):
        return f"the input is not valid UTF-8 text: {exc} (save the file as UTF-8)"
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror or exc}"
    return None


def friendly_errors(fn: F) -> F:
    """Turn a PlannerError into one line on stderr and its exit code — never a traceback;
    likewise (exit code 2) recursion, memory, encoding and OS errors."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PlannerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (RecursionError, MemoryError, UnicodeError, OSError) as exc:
            line = last_resort(exc)
            click.echo(f"error: {line}", err=True)
            sys.exit(InputError.exit_code)

    return wrapper  # type: ignore[return-value]


def _write_error(path: Path, exc: OSError) -> InputError:
    parent = path.parent if str(path.parent) else Path(".")
    if isinstance(exc, FileNotFoundError | NotADirectoryError) and not parent.is_dir():
        if parent.exists():
            return InputError("is a file, not a directory", source=str(parent),
                              hint="give another output path")
        return InputError("directory does not exist", source=str(parent),
                          hint="create it first, or give another output path")
    if isinstance(exc, IsADirectoryError):
        return InputError("is a directory", source=str(path), hint="give a file name")
    if isinstance(exc, PermissionError):
        return InputError("permission denied: cannot write here", source=str(path),
                          hint="give a path you may write to")
    return InputError(f"cannot write file: {exc.strerror or exc}", source=str(path))


def _new_file_mode(path: Path) -> int:
    """The mode the file would get from open(): its current one, else 0666 minus umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def write_output(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: a temporary file in the same directory,
    renamed over ``path`` when complete, so a failed write never leaves half a file.
    Devices and FIFOs (``/dev/stdout``) are written directly. Errors are one-line
    InputErrors: missing directory, permission denied, a directory given as the file."""
    if path.is_dir():
        raise _write_error(path, IsADirectoryError(str(path)))
    if path.exists() and not path.is_file():
        try:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise _write_error(path, exc) from None
        return
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_error(path, exc) from None
        raise


def check_output(path: Path | None) -> None:
    """Fail early (before any long solve) if ``path`` cannot be written later."""
    if path is None:
        return
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise _write_error(path, IsADirectoryError(str(path)))
    if not parent.is_dir():
        raise _write_error(path, FileNotFoundError(str(parent)))
    if not os.access(parent, os.W_OK | os.X_OK) and not (path.exists() and not path.is_file()):
        raise _write_error(path, PermissionError(str(path)))


class portfolio_context:
    """Errors about the portfolio's contents name the portfolio file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, InputError) and not exc.source:
            raise with_source(exc, str(self.path)) from None


def checked(check: Callable[[Any, str], object]) -> Callable[..., Any]:
    """An option callback that runs ``check`` (the value, the option's name), one of the
    API's argument checks (:mod:`planner.solvers.arguments`) or :func:`check_finite`:
    the command line refuses what the API refuses, with the same message, exit 2 before
    anything is loaded."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return value
        try:
            check(value, param.opts[0])
        except InputError as exc:
            raise click.BadParameter(exc.message + (f" ({exc.hint})" if exc.hint else ""),
                                     ctx=ctx, param=param) from None
        return value

    return callback


def check_finite(value: float, name: str) -> None:
    """A number option is finite: ``inf`` and ``nan`` pass click's ranges (``nan``
    compares false with both ends) but mean nothing as seconds, days or shares."""
    if not math.isfinite(value):
        raise InputError(f"{value!r} is not a finite number", path=name,
                         hint="give a number")


catalogs_option = click.option(
    "--catalogs",
    "catalogs_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Catalog directory (default: $PLANNER_CATALOGS, else the user cache when it holds "
         "catalogs, else the bundled snapshot; `planner catalog status` shows which).",
)


