"""Where the planner reads its price catalogs from, wherever it runs.

Lookup order (the first that applies wins; ``planner catalog status`` prints which):

1. ``--catalogs DIR`` on the command line (or ``load_catalogs(DIR)`` in Python);
2. ``$PLANNER_CATALOGS``;
3. the per-user cache directory, when it holds a catalog (``aws.json`` or
   ``azure.json``) — ``planner catalog refresh`` writes there by default:

   * Linux and other XDG systems: ``$XDG_CACHE_HOME/planner/catalogs``
     (``~/.cache/planner/catalogs`` when the variable is unset or not absolute);
   * macOS: ``~/Library/Caches/planner/catalogs``;
   * Windows: ``%LOCALAPPDATA%\\planner\\Cache\\catalogs``;

4. the snapshot bundled with the package (``planner/_catalogs/`` in a wheel, copied from
   the repository's top-level ``catalogs/`` at build time; ``catalogs/`` itself in a
   source checkout or an editable install).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from planner.catalog.load import CATALOG_SUFFIX
from planner.catalog.where import CATALOGS_ENV, CLI_FLAG

APP = "planner"
BUNDLED_PACKAGE_DIR = "_catalogs"
"""The bundled snapshot's folder inside the installed ``planner`` package (wheels)."""


@dataclass(frozen=True)
class CatalogLocation:
    """A catalog directory and why it was chosen (for ``catalog status`` and errors)."""

    path: Path
    source: str
    """``--catalogs`` (``planner.load_catalogs``), ``$PLANNER_CATALOGS``, ``user cache`` or
    ``bundled snapshot``."""

    def describe(self) -> str:
        """``reading catalogs from DIR (SOURCE)``."""
        return f"reading catalogs from {self.path} ({self.source})"


def user_cache_dir(env: Mapping[str, str] | None = None, platform: str | None = None,
                   home: Path | None = None) -> Path:
    """The platform's per-user cache directory for the planner (not created)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    if platform.startswith("win"):
        local = env.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(local) / APP / "Cache"
    if platform == "darwin":
        return home / "Library" / "Caches" / APP
    xdg = env.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"
    return base / APP


def user_catalog_dir(env: Mapping[str, str] | None = None, platform: str | None = None,
                     home: Path | None = None) -> Path:
    """Where refreshed catalogs live by default: ``<user cache>/catalogs``."""
    return user_cache_dir(env, platform, home) / "catalogs"


def has_catalogs(directory: Path) -> bool:
    """Whether ``directory`` holds at least one provider catalog file (``<provider>.json``)."""
    try:
        return any(p.is_file() and not p.name.startswith(".")
                   for p in directory.glob("*" + CATALOG_SUFFIX))
    except OSError:
        return False


def bundled_catalog_dir() -> Path:
    """The catalog snapshot shipped with the planner.

    A wheel carries it as ``planner/_catalogs/``; a source checkout (and an editable
    install of it) reads the repository's ``catalogs/`` next to the package.
    """
    packaged = Path(str(resources.files(APP).joinpath(BUNDLED_PACKAGE_DIR)))
    if has_catalogs(packaged):
        return packaged
    return Path(str(resources.files(APP))).parent / "catalogs"


def resolve_catalog_dir(explicit: str | Path | None = None,
                        env: Mapping[str, str] | None = None,
                        given_as: str = CLI_FLAG) -> CatalogLocation:
    """The catalog directory to read, by the lookup order in this module's docstring;
    ``given_as`` is how an ``explicit`` one was given (``--catalogs``, or
    ``planner.load_catalogs`` in Python), for the location's source and errors."""
    env = os.environ if env is None else env
    if explicit:
        return CatalogLocation(Path(explicit), given_as)
    if env.get(CATALOGS_ENV):
        return CatalogLocation(Path(env[CATALOGS_ENV]), f"${CATALOGS_ENV}")
    cache = user_catalog_dir(env)
    if has_catalogs(cache):
        return CatalogLocation(cache, "user cache")
    return CatalogLocation(bundled_catalog_dir(), "bundled snapshot")


def refresh_target_dir(explicit: str | Path | None = None,
                       env: Mapping[str, str] | None = None) -> Path:
    """Where ``catalog refresh`` writes: ``--out``, else ``$PLANNER_CATALOGS``, else the
    user cache (never the bundled snapshot inside the installed package)."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get(CATALOGS_ENV):
        return Path(env[CATALOGS_ENV])
    return user_catalog_dir(env)
