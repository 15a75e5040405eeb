"""A Celery app over drover, run by the tests as `celery -A tests.celeryapp worker`: broker and result
backend are the hub (DROVER_CELERY_URL). Tasks write what they did to files under DROVER_CELERY_DIR
so the tests can count runs across processes."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery import Celery

import drover.celery  # noqa: F401 - registers drover:// with kombu and Celery

URL = os.environ.get("DROVER_CELERY_URL", "drover://:token@127.0.0.1:8787")
app = Celery("celeryapp", broker=URL, backend=URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # Short leases, so a killed worker's task comes back within seconds.
    broker_transport_options={"lease_seconds": 3},
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)

# `celery beat` with Celery's own scheduler, when a test asks for it: one entry, every second.
if os.environ.get("DROVER_CELERY_BEAT_QUEUE"):
    app.conf.beat_schedule = {
        "record-every-second": {"task": "cel.record", "schedule": 1.0, "args": [os.environ["DROVER_CELERY_BEAT_KEY"]], "options": {"queue": os.environ["DROVER_CELERY_BEAT_QUEUE"]}},
    }


class Boom(Exception):
    pass


def note(key: str, line: str) -> None:
    with open(Path(os.environ.get("DROVER_CELERY_DIR", "/tmp")) / key, "a") as f:
        f.write(line + "\n")


@app.task(name="cel.add")
def add(x: Any, y: Any) -> Any:
    return x + y


@app.task(name="cel.tsum")
def tsum(numbers: list[Any]) -> Any:
    return sum(numbers)


@app.task(name="cel.boom")
def boom(message: str) -> None:
    raise Boom(message)


@app.task(name="cel.flaky", bind=True, max_retries=5)
def flaky(self: Any, key: str, fails: int) -> int:
    note(key, f"run {self.request.retries} {time.time()}")
    if self.request.retries < fails:
        raise self.retry(exc=Boom(f"failing {self.request.retries}"), countdown=2)
    return int(self.request.retries)


@app.task(name="cel.record", bind=True)
def record(self: Any, key: str) -> str:
    note(key, f"ran {time.time()} {os.environ.get('WORKER_TAG', '')}")
    return os.environ.get("WORKER_TAG", "")


@app.task(name="cel.slow", bind=True)
def slow(self: Any, key: str, seconds: float) -> str:
    note(key, f"start {os.getpid()} {os.environ.get('WORKER_TAG', '')}")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    note(key, f"done {os.environ.get('WORKER_TAG', '')}")
    return os.environ.get("WORKER_TAG", "")


@app.task(name="cel.limited", rate_limit="1/m")
def limited() -> str:
    return os.environ.get("WORKER_TAG", "")


@app.task(name="cel.progress", bind=True)
def progress(self: Any, key: str) -> str:
    self.update_state(state="PROGRESS", meta={"done": 1})
    deadline = time.monotonic() + 30
    while not (Path(os.environ.get("DROVER_CELERY_DIR", "/tmp")) / key).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "finished"


@app.task(name="cel.replaced", bind=True)
def replaced(self: Any) -> None:
    raise self.replace(add.s(1, 2))


@app.task(name="cel.collect")
def collect(results: list[Any], key: str) -> list[Any]:
    """A chord's body: notes that it ran (once, the tests check) and answers the members' results."""
    note(key, f"collected {results} {os.environ.get('WORKER_TAG', '')}")
    return results
