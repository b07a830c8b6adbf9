"""Suite-wide fixtures. Sockets are blocked for every test: no test may reach the
network, by accident or otherwise (loopback included, so fakes must be in-process)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


class NetworkBlocked(RuntimeError):
    """Raised when a test tries to open a network connection."""


def _blocked(*_args: object, **_kwargs: object) -> None:
    raise NetworkBlocked("tests are offline: a test tried to open a network connection")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _blocked)
    monkeypatch.setattr(socket.socket, "connect_ex", _blocked)
    monkeypatch.setattr(socket, "create_connection", _blocked)
    monkeypatch.setattr(socket, "getaddrinfo", _blocked)
    yield


@pytest.fixture
def repo() -> Path:
    """The repository root (for bundled catalogs and examples)."""
    return REPO
