"""How to point the planner at a catalog folder, worded for the way the folder was given.

A folder comes from ``--catalogs DIR`` (the command line), ``planner.load_catalogs(DIR)``
(Python), ``$PLANNER_CATALOGS``, or the default lookup (:mod:`planner.catalog.paths`); an
error about it says how to fix it there, not with a flag the caller has no use for.
"""

from __future__ import annotations

CATALOGS_ENV = "PLANNER_CATALOGS"
FILES = "aws.json / azure.json"

CLI_FLAG = "--catalogs"
API_FUNCTION = "planner.load_catalogs"


def point_hint(given_as: str) -> str:
    """How to name a folder with catalogs instead, for a folder given as ``given_as``
    (``--catalogs``, ``planner.load_catalogs``, ``$PLANNER_CATALOGS``, or the source of the
    default lookup)."""
    if given_as.startswith("--"):
        return (f"pass {given_as} DIR or set ${CATALOGS_ENV} to a folder with {FILES}; "
                "`planner catalog status` shows the lookup order")
    if given_as.startswith("$"):
        return (f"set {given_as} to a folder with {FILES}, or unset it for the user cache "
                "or the bundled snapshot")
    if given_as.startswith("planner."):
        return (f"give {given_as} a folder with {FILES}, or leave it out for the default "
                f"lookup: ${CATALOGS_ENV}, the user cache, the bundled snapshot")
    return f"point ${CATALOGS_ENV} at a folder with {FILES}"


def empty_hint(given_as: str) -> str:
    """What to do about a folder without any catalog file."""
    refresh = "" if given_as.startswith("$") else " --out DIR"
    return f"fetch them with `planner catalog refresh{refresh}`, or {point_hint(given_as)}"
