"""Build hook: the bundled catalog snapshots (``catalogs/*.json`` at the repository top
level, the source of truth) are copied into the package as ``planner/_catalogs/`` when a
wheel is built, so an installed planner finds them from any directory. Everything else
is configured in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).parent / "catalogs"
TARGET = ("planner", "_catalogs")


class build_py_with_catalogs(build_py):
    """``build_py`` plus the catalog snapshots as package data of ``planner``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads catalogs/ from the checkout
        target = Path(self.build_lib, *TARGET)
        target.mkdir(parents=True, exist_ok=True)
        for source in [*sorted(SOURCE.glob("*.json")), SOURCE / "README.md"]:
            if source.is_file():
                shutil.copyfile(source, target / source.name)


setup(cmdclass={"build_py": build_py_with_catalogs})
