"""One writer at a time per catalog file, and the temp files a killed writer leaves.

Every refresh or write of ``DIR/aws.json`` holds an exclusive ``flock`` on
``DIR/.aws.json.lock`` (created once, never deleted: deleting a lock file races
with the next writer). When ``DIR/aws.json`` is a symlink, the lock, the temp
files and the write are next to its resolved target (:func:`resolved`), so every
link to one shared catalog shares its lock. The holder writes its PID into the lock file so that a
refresh that cannot wait can say who is busy. The kernel drops the lock when
the holder exits, however it exits (kill -9 included), so a lock is never stale.

The store writes ``DIR/.aws.json.XXXXXXXX.tmp`` (``tempfile.mkstemp``) and
renames it over ``aws.json``. A writer killed between the two leaves that temp
file behind; since temp files are only written under the lock, the next writer
(holding the lock) removes every one of them: only names matching exactly this
pattern, only regular files, only in the catalog's own directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from planner.errors import CatalogStoreError

DEFAULT_LOCK_TIMEOUT_S = 600.0
"""How long a refresh waits for another refresh of the same catalog before giving up."""

POLL_INTERVAL_S = 0.1
NOTICE_INTERVAL_S = 30.0
"""While waiting, the lock is retried every ``POLL_INTERVAL_S`` and the wait is
reported every ``NOTICE_INTERVAL_S``."""

TEMP_SUFFIX = ".tmp"
_MKSTEMP_NAME = r"[a-z0-9_]{8}"  # tempfile's random part: 8 of [a-z0-9_]


def resolved(path: Path) -> Path:
    """The file a catalog path stands for: a symlink's target (followed through every
    link, also when the target is missing), else the path itself.

    The store locks, writes and cleans up next to this file, so that two refreshes
    through different links to one shared catalog take the same lock.
    """
    return Path(os.path.realpath(path))


def lock_path(path: Path) -> Path:
    """The lock file of the catalog at ``path`` (``.aws.json.lock`` next to it; callers
    pass the :func:`resolved` path)."""
    return path.with_name(f".{path.name}.lock")


def temp_prefix(path: Path) -> str:
    """The prefix of the catalog's temp files (``.aws.json.``)."""
    return f".{path.name}."


def _is_temp_name(path: Path, name: str) -> bool:
    pattern = re.escape(temp_prefix(path)) + _MKSTEMP_NAME + re.escape(TEMP_SUFFIX)
    return re.fullmatch(pattern, name) is not None


@dataclass(frozen=True)
class TempFile:
    """A temp file of a catalog write: where it is, its size and last change."""

    path: Path
    size: int
    mtime: float


def temp_files(path: Path) -> list[TempFile]:
    """The catalog's temp files present now (regular files with the store's naming only)."""
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    found = []
    for entry in entries:
        if not _is_temp_name(path, entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append(TempFile(Path(entry.path), info.st_size, info.st_mtime))
    return sorted(found, key=lambda t: t.path.name)


def remove_temp_files(path: Path) -> list[TempFile]:
    """Remove the catalog's leftover temp files; call only while holding its lock."""
    removed = []
    for temp in temp_files(path):
        try:
            temp.path.unlink()
        except OSError:  # gone already, or not ours to remove: never block a refresh
            continue
        removed.append(temp)
    return removed


def holder_pid(path: Path) -> int | None:
    """The PID written into the catalog's lock file by its current holder, if any."""
    try:
        text = lock_path(path).read_text("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _holder(path: Path) -> str:
    pid = holder_pid(path)
    return f"process {pid}" if pid else "another process"


def is_locked(path: Path) -> bool:
    """Whether a refresh holds the catalog's lock right now (probed without blocking)."""
    try:
        fd = os.open(lock_path(path), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also drops the probe's shared lock
    return False


def _try_lock(fd: int, path: Path) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        raise CatalogStoreError(f"cannot lock the catalog: {exc.strerror or exc}",
                                source=str(lock_path(path)),
                                hint="the file system must support flock") from None
    return True


def _wait_for_lock(fd: int, path: Path, *, wait: bool, timeout_s: float,
                   notify: Callable[[str], None]) -> None:
    """Take the exclusive lock, waiting at most ``timeout_s`` (or not at all)."""
    deadline = time.monotonic() + timeout_s
    next_notice = 0.0
    while not _try_lock(fd, path):
        now = time.monotonic()
        if not wait:
            raise CatalogStoreError(f"the catalog is being refreshed by {_holder(path)}",
                                    source=str(path),
                                    hint="try again later, or leave out --no-wait to wait")
        if now >= deadline:
            raise CatalogStoreError(
                f"gave up after {timeout_s:g} s waiting for another refresh of {path.name} "
                f"({_holder(path)})", source=str(path),
                hint="the other refresh may hang; check it, or raise --wait-timeout")
        if now >= next_notice:
            notify(f"waiting for another refresh of {path.name} ({_holder(path)}) …")
            next_notice = now + NOTICE_INTERVAL_S
        time.sleep(min(POLL_INTERVAL_S, max(deadline - now, 0.0)))


def _open_lock_file(path: Path) -> int:
    lock = lock_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        why = exc.strerror or str(exc)
        if not os.path.lexists(lock):
            raise CatalogStoreError(f"cannot create the lock file: {why}", source=str(lock),
                                    hint="the catalog directory must be writable") from None
        hint = ("make it writable for this user" if lock.is_file() and not lock.is_symlink()
                else "it must be a plain file: remove it, the next refresh creates it anew")
        raise CatalogStoreError(f"cannot open the lock file: {why}", source=str(lock),
                                hint=hint) from None


def _write_pid(fd: int, pid: int | None) -> None:
    """Record (or with ``None`` clear) the holder's PID; best effort, the lock is what counts."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        if pid is not None:
            os.pwrite(fd, f"{pid}\n".encode("ascii"), 0)


@contextlib.contextmanager
def catalog_lock(path: Path, *, wait: bool = True, timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
                 notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the exclusive lock of the catalog at ``path`` for the ``with`` block.

    Another holder makes this wait (calling ``notify`` with a progress line now
    and then) for at most ``timeout_s`` seconds, or with ``wait=False`` fail at
    once; both failures are ``CatalogStoreError`` (exit code 5) naming the
    holder's PID.
    """
    fd = _open_lock_file(path)
    try:
        _wait_for_lock(fd, path, wait=wait, timeout_s=timeout_s,
                       notify=notify or (lambda _message: None))
        _write_pid(fd, os.getpid())
        try:
            yield
        finally:
            _write_pid(fd, None)
    finally:
        os.close(fd)
