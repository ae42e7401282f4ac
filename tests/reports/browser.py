"""A headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe):
no WebDriver, no websocket library, no browser download. Debian's `chromium` will do.

`Browser.open(path)` loads a local HTML file and returns a `Page`: what the console and the
network reported while it loaded (errors, failed loads), its links, and evaluation of a
JavaScript expression *by the test* (the pages themselves need none).
"""

from __future__ import annotations

import base64
import fcntl
import json
import select
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe", "--window-size=1200,900"]


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Page:
    url: str
    problems: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads


class Browser:
    """One Chromium process with a fresh profile; a context manager."""

    def __init__(self, executable: str, timeout: float = 30.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        # above 4, so that placing them at 3 and 4 in the child never overwrites one another
        to_child, from_child = (_high(fd) for fd in (to_child, from_child))

        def wire_fds():  # the protocol's fixed descriptors: 3 reads commands, 4 writes replies
            os.dup2(to_child, 3)
            os.dup2(from_child, 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            preexec_fn=wire_fds, close_fds=False,  # closing would take 3 and 4 too
            start_new_session=True,  # its helper processes end with it (__exit__)
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.send("Target.attachToTarget",
                                     {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable", session=True)
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        os.close(self._write)
        os.close(self._read)
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        """Run one protocol command and return its result (raises on a protocol error)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the protocol pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, path: Path) -> Page:
        """Load `path` and wait for its load event; the page's problems are what the console,
        the runtime and the network reported meanwhile."""
        url = path.resolve().as_uri()
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session=True)
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading")
            self.events.append(self._receive())
        self.evaluate("1")  # lets events raised during load arrive before we read them
        return Page(url, [problem for e in self.events if (problem := _problem(e))])

    def set_width(self, width: int) -> None:
        """Lay pages out in a window `width` CSS pixels wide (a phone's, say)."""
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900,
                                                         "deviceScaleFactor": 1,
                                                         "mobile": False}, session=True)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (run by the test, not the page)."""
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True}, session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (not only the window) at `path`."""
        size = self.send("Page.getLayoutMetrics", session=True)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", {"format": "png", "clip": clip,
                                                    "captureBeyondViewport": True},
                         session=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


def _high(fd: int) -> int:
    """`fd` moved to a descriptor number of 10 or more (close-on-exec, like os.pipe's)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def _problem(event: dict) -> str | None:
    """What an event says went wrong, or None."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        return f"exception: {params['exceptionDetails'].get('text')}"
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        return f"console.{params['type']}: {params.get('args')}"
    if method == "Log.entryAdded" and params["entry"].get("level") == "error":
        return f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}"
    if method == "Network.loadingFailed":
        return f"load failed: {params.get('errorText')}"
    return None
