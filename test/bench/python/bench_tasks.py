"""The drover-python bench's tasks, run by `python -m drover worker -A bench_tasks`: a no-op and a
stamp, as Celery's bench app has them.

Completions are counted without a round trip per task: each process that runs tasks (the worker
with --pool threads, each child with --pool prefork) counts in memory, and a reporter thread
writes its count, the time of its latest completion and any latencies to a file of its own in
BENCH_DONE_DIR every few ms. bench_driver.py reads them.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from drover import Drover

DONE_DIR = os.environ["BENCH_DONE_DIR"]

# The worker's --url and --token (it sets DROVER_URL and DROVER_TOKEN before importing this).
app = Drover()


class Reporter:
    """Per process: completions counted in memory, flushed to DONE_DIR/<pid> from a thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = 0
        # Times are time.monotonic() (CLOCK_MONOTONIC): one clock for every process on the host.
        self.last = 0.0
        self.latencies: list[float] = []
        self.path = os.path.join(DONE_DIR, str(os.getpid()))
        threading.Thread(target=self.run, daemon=True).start()

    def completed(self, started_by: float | None = None) -> None:
        now = time.monotonic()
        with self.lock:
            self.done += 1
            self.last = now
            if started_by is not None:
                self.latencies.append((now - started_by) * 1000)

    def run(self) -> None:
        written = -1
        while True:
            time.sleep(0.005)
            with self.lock:
                if self.done == written:
                    continue
                state: dict[str, Any] = {"done": self.done, "last": self.last, "latencies": list(self.latencies)}
            # Written whole, then renamed: the driver never reads half a file.
            with open(self.path + ".tmp", "w") as f:
                json.dump(state, f)
            os.replace(self.path + ".tmp", self.path)
            written = state["done"]


_reporter: Reporter | None = None
_made = threading.Lock()


def reporter() -> Reporter:
    # Made on first use, in the process that runs the task (a prefork child has its own).
    global _reporter
    if _reporter is None:
        with _made:
            if _reporter is None:
                _reporter = Reporter()
    return _reporter


@app.task(name="noop")
def noop() -> None:
    reporter().completed()


@app.task(name="stamp")
def stamp(t0: float) -> None:
    """A no-op that records how long it waited: `t0` is the producer's time.monotonic() at enqueue."""
    reporter().completed(t0)
