"""Run in a separate process by the refresh tests: a refresh that takes the catalog's
lock, writes its temp file, and then hangs until it is killed."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from planner.refresh.lock import TEMP_SUFFIX, catalog_lock, temp_prefix


def hold_lock_then_hang(catalog: str, ready: Any) -> None:
    """Lock ``catalog``, leave a 1 MB temp file like a killed write would, then hang."""
    path = Path(catalog)
    with catalog_lock(path):
        fd, _name = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path),
                                     suffix=TEMP_SUFFIX)
        os.write(fd, b"{" * 1_000_000)
        os.close(fd)
        ready.set()
        while True:  # until SIGKILL
            time.sleep(1)
