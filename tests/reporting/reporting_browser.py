"""Open a page in headless Chromium and ask it what it rendered, over the DevTools protocol.

The protocol runs over `--remote-debugging-pipe` (fd 3 in, fd 4 out, messages ended by NUL), connected
through two FIFOs, so no websocket client and no port are needed. Collected: console messages,
uncaught exceptions and log entries (failed loads), every `svg.plot`'s box and drawn elements, and a
full-page PNG screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT = 180  # seconds per DevTools answer: generous, a loaded CI machine starts chromium slowly
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")

PROBE = """JSON.stringify(Array.from(document.querySelectorAll('svg.plot')).map(s => {
  const r = s.getBoundingClientRect();
  return {name: s.dataset.plot, width: r.width, height: r.height,
          drawn: s.querySelectorAll('polyline,polygon,rect,circle,line').length,
          painted: Array.from(s.querySelectorAll('polyline,polygon,rect')).filter(e => {
            const b = e.getBBox(); return b.width > 0 || b.height > 0; }).length};
}))"""


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Rendered:
    plots: list[dict]
    errors: list[str] = field(default_factory=list)
    title: str = ""
    screenshot: bytes = b""


class _Session:
    def __init__(self, binary: str, workdir: Path):
        to_browser, from_browser = workdir / "in.fifo", workdir / "out.fifo"
        os.mkfifo(to_browser)
        os.mkfifo(from_browser)
        args = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-proxy-server",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
                f"--user-data-dir={workdir / 'profile'}", "--remote-debugging-pipe", "about:blank"]
        script = 'exec "$@" 3<"$IN" 4>"$OUT"'
        env = {**os.environ, "IN": str(to_browser), "OUT": str(from_browser)}
        self.process = subprocess.Popen(["bash", "-c", script, "chromium", *args], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.writer = open(to_browser, "wb", buffering=0)
        self.reader = open(from_browser, "rb", buffering=0)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.reader], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.reader.fileno(), 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = TIMEOUT) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.writer.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 - closing is best effort; the process is ended below
            pass
        for handle in (self.writer, self.reader):
            handle.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _errors(events: list[dict]) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            found.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            entry = params["entry"]
            found.append(f"log {entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
    return found


def render(page: Path, binary: str, width: int = 1400) -> Rendered:
    with tempfile.TemporaryDirectory(prefix="report-browser-") as tmp:
        session = _Session(binary, Path(tmp))
        try:
            target = session.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            sid = session.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                session.send(f"{domain}.enable", session=sid)
            session.send("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=sid)
            session.send("Page.navigate", {"url": Path(page).resolve().as_uri()}, session=sid)
            session.wait_for("Page.loadEventFired")
            probe = session.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=sid)
            plots = json.loads(probe["result"]["value"])
            title = session.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                                 session=sid)["result"]["value"]
            height = session.send("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight",
                                                       "returnByValue": True}, session=sid)["result"]["value"]
            session.send("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": int(height), "deviceScaleFactor": 1, "mobile": False}, session=sid)
            shot = session.send("Page.captureScreenshot", {"format": "png"}, session=sid)
            return Rendered(plots, _errors(session.events), title, base64.b64decode(shot["data"]))
        finally:
            session.close()
