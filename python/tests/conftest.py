"""The system the Python tests run against: `npm start` (the hub in workerd, local state) on a free
port, and the repository's TypeScript worker (`drover worker` over test/fixtures/tasks.ts), each a
process group of its own that the session ends."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Debian's Python, which has celery, kombu and pytest (the `python3` first on PATH may be another).
PYTHON = "/usr/bin/python3"
TOKENS = {"admin": "py-admin-token", "enqueue": "py-enqueue-token", "consume": "py-consume-token"}
TOKEN_LIST = ",".join(f"{t}:{scope}" for scope, t in TOKENS.items())


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    """Polls `check` until it answers something true, failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.05)


def node() -> str:
    """Node 22 from the repository's node@22 dependency (npm scripts put it first on PATH too)."""
    local = ROOT / "node_modules" / ".bin" / "node"
    return str(local) if local.exists() else shutil.which("node") or "node"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.out = open(log, "wb")
        # The repository's node_modules/.bin first, as npm scripts have it: wrangler runs `node` too.
        path = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        self.proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PATH": path, **env}, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.out.close()


@pytest.fixture(scope="session")
def hub_url() -> Iterator[str]:
    port = free_port()
    state = tempfile.mkdtemp(prefix="drover-py-")
    hub = Process([node(), "scripts/start.ts"], {"PORT": str(port), "DROVER_STATE_DIR": state, "DROVER_TOKENS": TOKEN_LIST}, Path(state) / "hub.log")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while "hub ready at" not in hub.output():
        if hub.proc.poll() is not None or time.monotonic() > deadline:
            hub.stop()
            raise RuntimeError(f"npm start did not become ready:\n{hub.output()}")
        time.sleep(0.1)
    yield url
    hub.stop()
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def ts_worker(hub_url: str) -> Iterator[Process]:
    """A TypeScript pull worker of queue `py`, running the repository's test tasks (test.add, ...)."""
    log = Path(tempfile.mkdtemp(prefix="drover-py-worker-")) / "worker.log"
    worker = Process(
        [node(), "bin/drover.ts", "worker", "--url", hub_url, "--token", TOKENS["consume"], "--queue", "py", "--name", "ts-worker", "--concurrency", "8", "test/fixtures/tasks.ts"],
        {},
        log,
    )
    yield worker
    worker.stop()
