"""Suite-wide fixtures. Sockets are blocked for every test: no test may reach the
network, by accident or otherwise (loopback included, so fakes must be in-process).
The one exception is a test marked ``@pytest.mark.allow_loopback`` (the local Ray
cluster): it may connect to loopback addresses, and still nowhere else."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


class NetworkBlocked(RuntimeError):
    """Raised when a test tries to open a network connection."""


def _blocked(*_args: object, **_kwargs: object) -> None:
    raise NetworkBlocked("tests are offline: a test tried to open a network connection")


LOOPBACK = {"127.0.0.1", "::1", "localhost", "0.0.0.0"}


def _host(address: object) -> str | None:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None  # AF_UNIX paths and the like are not network connections


def _loopback_only(original: Callable[..., object]) -> Callable[..., object]:
    """``original`` for loopback (or non-IP) addresses; anything else is refused."""

    def guarded(*args: object, **kwargs: object) -> object:
        addr = args[1] if len(args) > 1 and isinstance(args[0], socket.socket) else args[0]
        host = _host(addr) if not isinstance(addr, str) else addr
        if host is not None and host not in LOOPBACK and not host.startswith("127."):
            _blocked()
        return original(*args, **kwargs)

    return guarded


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_loopback: the test may connect to loopback addresses only (Ray)")


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if request.node.get_closest_marker("allow_loopback"):
        monkeypatch.setattr(socket.socket, "connect", _loopback_only(socket.socket.connect))
        monkeypatch.setattr(socket.socket, "connect_ex",
                            _loopback_only(socket.socket.connect_ex))
        monkeypatch.setattr(socket, "create_connection", _loopback_only(socket.create_connection))
        monkeypatch.setattr(socket, "getaddrinfo", _loopback_only(socket.getaddrinfo))
    else:
        monkeypatch.setattr(socket.socket, "connect", _blocked)
        monkeypatch.setattr(socket.socket, "connect_ex", _blocked)
        monkeypatch.setattr(socket, "create_connection", _blocked)
        monkeypatch.setattr(socket, "getaddrinfo", _blocked)
    yield


@pytest.fixture
def repo() -> Path:
    """The repository root (for bundled catalogs and examples)."""
    return REPO


@pytest.fixture(autouse=True)
def _no_user_catalog_cache(tmp_path_factory: pytest.TempPathFactory,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-user catalog cache (``planner.catalog.paths``) of whoever runs the suite is never
    read or written: every test gets an empty cache directory of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
