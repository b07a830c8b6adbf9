"""Open a page in headless chromium (Debian's) and report what it saw: the rendered DOM, a
screenshot, console messages and the requests the page made.

Chromium runs as a subprocess with a fresh profile, no sandbox (containers), every
call-home feature off and a host resolver that resolves nothing, so even a stray
request could not leave the machine. Requests the *page* makes are read from
chromium's net log (their isolation key is the file:// origin); the browser's own
background requests (component updates and the like) have other keys and are ignored.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y chromium; .ci/run installs it)",
)

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--no-pings",
    "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1400,2000",
)
CONSOLE = re.compile(r":CONSOLE\(?\d*\)?\]|Uncaught|Refused to", re.I)


class Page:
    """What chromium saw: the rendered DOM, the screenshot, its log and the page's requests."""

    def __init__(self, dom: str, png: Path, log: str, requests: list[str]) -> None:
        self.dom, self.png, self.log, self.requests = dom, png, log, requests

    @property
    def console(self) -> list[str]:
        return [line for line in self.log.splitlines() if CONSOLE.search(line)]


def _net_events(path: Path) -> list[dict[str, Any]]:
    text = path.read_text("utf-8", errors="replace") if path.exists() else ""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # cut short: close the event list
        data = json.loads(text.rstrip().rstrip(",") + "]}")
    events: list[dict[str, Any]] = data.get("events", [])
    return events


def page_requests(netlog: Path) -> list[str]:
    """URLs the page itself asked for (network isolation key = the file:// page)."""
    urls = []
    for event in _net_events(netlog):
        params = event.get("params") or {}
        key = str(params.get("network_isolation_key", ""))
        if "url" in params and key.startswith("file://"):
            urls.append(str(params["url"]))
    return sorted(set(urls))


def open_in_chromium(html: Path, tmp: Path) -> Page:
    assert CHROMIUM is not None
    png, netlog, profile = tmp / "shot.png", tmp / "net.json", tmp / "profile"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--log-net-log={netlog}",
           f"--screenshot={png}", "--dump-dom", html.resolve().as_uri()]
    env = {**os.environ, "HOME": str(tmp)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return Page(proc.stdout, png, proc.stderr, page_requests(netlog))


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height
