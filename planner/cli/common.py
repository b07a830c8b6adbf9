"""Pieces every ``planner`` command shares: one-line errors, the catalogs option, and
errors that name the portfolio file."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from planner.errors import InputError, PlannerError, with_source

F = TypeVar("F", bound=Callable[..., Any])


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def friendly_errors(fn: F) -> F:
    """Turn a PlannerError into one line on stderr and its exit code — never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PlannerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


class portfolio_context:
    """Errors about the portfolio's contents name the portfolio file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, InputError) and not exc.source:
            raise with_source(exc, str(self.path)) from None


catalogs_option = click.option(
    "--catalogs",
    "catalogs_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Catalog directory (default: $PLANNER_CATALOGS, else the user cache when it holds "
         "catalogs, else the bundled snapshot; `planner catalog status` shows which).",
)


