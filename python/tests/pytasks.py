"""Tasks the tests run in a real Python worker (`python -m drover worker -A tests.pytasks`): each says
which process ran it, so tests can check where and how often work ran."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from drover import Drover

app = Drover()  # the worker's --url and --token


@app.task(name="py.add")
def add(*numbers: Any) -> Any:
    total = 0
    for n in numbers:
        total += sum(n) if isinstance(n, list) else n
    return total


@app.task(name="py.whoami", bind=True)
def whoami(self: Any, *args: Any) -> dict[str, Any]:
    r = self.request
    return {"args": list(args), "id": r.id, "retries": r.retries, "queue": r.queue, "region": r.region, "hostname": r.hostname, "root_id": r.root_id, "parent_id": r.parent_id, "eta": r.eta, "workflow": r.workflow, "headers": r.headers, "pid": os.getpid()}


@app.task(name="py.countdown", bind=True, max_retries=3)
def countdown(self: Any, seconds: float) -> dict[str, Any]:
    """Asks for a retry after `seconds` on its first attempt; says on which attempt it succeeded."""
    if self.request.retries == 0:
        raise self.retry(exc=ConnectionError("the site is down"), countdown=seconds)
    return {"retries": self.request.retries}


class Flaky(Exception):
    pass


@app.task(name="py.autoretry", bind=True, autoretry_for=(Flaky,), retry_backoff=0.1, retry_jitter=False)
def autoretry(self: Any, fail_times: int) -> int:
    if self.request.retries < fail_times:
        raise Flaky(f"attempt {self.request.attempt} fails")
    return self.request.retries


@app.task(name="py.autoretry_other", autoretry_for=(Flaky,))
def autoretry_other() -> None:
    raise ValueError("not in autoretry_for: fails for good")


@app.task(name="py.mark", bind=True)
def mark(self: Any, path: str, seconds: float) -> dict[str, Any]:
    """Writes `path` when it starts (so a test knows it runs), sleeps, then returns who ran it.
    Stops early when revoked (in a thread; prefork kills the process)."""
    Path(path).write_text(f"{os.getpid()} {self.request.id} {self.request.retries}")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not self.request.revoked():
        time.sleep(0.02)
    return {"pid": os.getpid(), "retries": self.request.retries, "hostname": self.request.hostname, "revoked": self.request.revoked()}


@app.task(name="py.limited", time_limit=1)
def limited(path: str) -> str:
    Path(path).write_text(str(os.getpid()))
    time.sleep(60)
    return "never"


@app.task(name="py.rated", rate_limit="5/s")
def rated(folder: str, n: int) -> None:
    """Writes when it started (time.time()) to `folder`/`n`: a test reads the starts of many."""
    Path(folder, str(n)).write_text(repr(time.time()))
