"""Errors the planner reports to users: what is wrong, where, and how to fix it.

Every error here renders as one line (``str(err)``); the CLI prints that line
and exits with the error's ``exit_code`` instead of a traceback.
"""

from __future__ import annotations


class PlannerError(Exception):
    """Base class of every user-facing planner error."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        hint: str | None = None,
        source: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.hint = hint
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.source:
            where = f"{self.source}: "
        if self.path:
            where += f"{self.path}: "
        text = f"{where}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return one_line(text)


def one_line(text: str) -> str:
    """``text`` with control characters escaped: an error stays one line on any terminal
    (no newlines, no escape sequences from a file's values or names)."""
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


class InputError(PlannerError):
    """A portfolio, scenario or plan file is malformed or refers to unknown names."""

    exit_code = 2


class CatalogError(PlannerError):
    """A catalog file is missing, corrupt or fails validation."""

    exit_code = 2


class CatalogFetchError(PlannerError):
    """A catalog refresh could not read the provider's API (auth, throttling, outage)."""

    exit_code = 4


class CatalogStoreError(PlannerError):
    """The store refused to replace the last good catalog (lost regions or rows)."""

    exit_code = 5


class VerificationError(PlannerError):
    """A plan broke a rule when checked by the independent verifier."""

    exit_code = 6


def with_source(err: PlannerError, source: str) -> PlannerError:
    """The same error, naming the file it is about (if it did not name one yet)."""
    if err.source:
        return err
    new = type(err)(err.message, path=err.path, hint=err.hint, source=source)
    return new


class Spelling:
    """How the caller spells the arguments a message names: the Python API's parameters
    (``previous``, ``solver='cpsat'``) or the command line's flags (``--previous``,
    ``--solver cpsat``). Code both call takes one and words its errors and hints with it,
    so an API user is not told about flags, nor a CLI user about keyword arguments."""

    def __init__(self, forms: dict[str, str], quote: bool) -> None:
        self.forms = forms
        self.quote = quote

    def __call__(self, param: str, value: str = "") -> str:
        """``param`` as the caller writes it, with ``value`` where the form has ``{}``."""
        return self.forms.get(param, param).format(value)

    def choices(self, values: list[str]) -> str:
        """``cpsat or greedy`` (flags) / ``'cpsat' or 'greedy'`` (Python)."""
        return " or ".join(repr(v) if self.quote else v for v in values)


API_SPELLING = Spelling({
    "previous": "previous", "solver": "solver={}", "all_or_nothing": "all_or_nothing=True",
    "catalogs": "catalogs=planner.load_catalogs({})",
}, quote=True)
CLI_SPELLING = Spelling({
    "previous": "--previous", "solver": "--solver {}", "all_or_nothing": "--all-or-nothing",
    "catalogs": "--catalogs {}",
}, quote=False)


def a_kind(value: object) -> str:
    """What ``value`` is, for an error: ``None``, ``a dict``, ``an int``."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
