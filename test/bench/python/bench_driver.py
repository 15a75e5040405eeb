"""The drover-python bench's producer side: enqueues with the Python package, times, prints one JSON line.

    BENCH_URL=... BENCH_TOKEN=<admin> BENCH_QUEUE=q BENCH_DONE_DIR=dir BENCH_WORKERS=names \\
        /usr/bin/python3 bench_driver.py SCENARIO ARGS...

    batch N BATCH       {"rate"}       N tasks by app.send_many, BATCH per call (no worker)
    single N IN_FLIGHT  {"rate"}       IN_FLIGHT threads, each calling send_task() in turn (no worker)
    drain N             {"rate"}       the queue paused, N tasks sent (untimed); once every worker
                                       heartbeats, the queue resumes: from then to the last task acked
    endtoend N          {"rate"}       workers claiming; N tasks sent in calls of 1000; first send to last acked
    latency RATE SECS   {"latencies"}  workers claiming; one stamp task every 1/RATE s; enqueue-to-start in ms

Completions come from the reporters of bench_tasks.py, which count as each task returns; the
last one is then followed until the hub holds no task of the queue (every ack arrived), and
that moment ends the clock. The workers (python -m drover worker) are started by drover-python.ts.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

from drover import Drover
from drover.canvas import Signature

TIMEOUT = 600  # s, for waiting on the workers
QUEUE = os.environ["BENCH_QUEUE"]
DONE_DIR = os.environ["BENCH_DONE_DIR"]
WORKERS = [w for w in os.environ.get("BENCH_WORKERS", "").split(",") if w]
app = Drover(os.environ["BENCH_URL"], os.environ["BENCH_TOKEN"])


def send(n: int, batch: int) -> None:
    for start in range(0, n, batch):
        app.send_many(Signature(app, "noop", (), {}, {"queue": QUEUE}) for _ in range(min(batch, n - start)))


def stats() -> dict[str, Any]:
    answer: dict[str, Any] = app.hub.call("GET", f"/v1/queues/{QUEUE}")
    return answer


def reports() -> list[dict[str, Any]]:
    found = []
    for name in os.listdir(DONE_DIR):
        if name.endswith(".tmp"):
            continue
        try:
            with open(os.path.join(DONE_DIR, name)) as f:
                found.append(json.load(f))
        except (OSError, ValueError):
            continue  # replaced while read: the next look has it
    return found


def completed(n: int) -> float:
    """Waits until n tasks have run and the hub has every ack; answers the time.monotonic() of that."""
    deadline = time.monotonic() + TIMEOUT
    while sum(r["done"] for r in reports()) < n:
        if time.monotonic() > deadline:
            sys.exit(f"only {sum(r['done'] for r in reports())} of {n} tasks completed")
        time.sleep(0.002)
    while True:
        s = stats()
        if s["ready"] == 0 and s["running"] == 0 and s["delayed"] == 0:
            return time.monotonic()
        if time.monotonic() > deadline:
            sys.exit(f"the hub still holds tasks: {s}")
        time.sleep(0.002)


def wait_for_workers() -> None:
    """Until every worker heartbeats (it is claiming, or about to)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        listed = app.hub.call("GET", "/v1/workers")["workers"]
        alive = {w["name"] for w in listed if w["state"] == "alive" and w.get("concurrency") is not None}
        if all(name in alive for name in WORKERS):
            return
        if time.monotonic() > deadline:
            sys.exit(f"workers that never heartbeat: {sorted(set(WORKERS) - alive)}")
        time.sleep(0.02)


def batch(n: int, size: int) -> dict[str, Any]:
    started = time.perf_counter()
    send(n, size)
    return {"rate": n / (time.perf_counter() - started)}


def single(n: int, in_flight: int) -> dict[str, Any]:
    left = iter(range(n))  # shared; next() on a range iterator is atomic under the GIL

    def sender() -> None:
        for _ in left:
            app.send_task("noop", queue=QUEUE)

    threads = [threading.Thread(target=sender) for _ in range(in_flight)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"rate": n / (time.perf_counter() - started)}


def drain(n: int) -> dict[str, Any]:
    app.hub.call("POST", f"/v1/queues/{QUEUE}/pause", {})
    send(n, 1000)
    while stats()["ready"] < n:  # the bus has carried every one to the queue
        time.sleep(0.05)
    wait_for_workers()
    started = time.monotonic()
    app.hub.call("POST", f"/v1/queues/{QUEUE}/resume", {})  # wakes the claims waiting on it
    return {"rate": n / (completed(n) - started)}


def endtoend(n: int) -> dict[str, Any]:
    wait_for_workers()
    started = time.monotonic()
    send(n, 1000)
    return {"rate": n / (completed(n) - started)}


def latency(rate: float, seconds: float) -> dict[str, Any]:
    wait_for_workers()
    count = round(rate * seconds)
    started = time.perf_counter()
    for i in range(count):
        # Paced against the schedule, not the previous send.
        wait = started + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        app.send_task("stamp", [time.monotonic()], queue=QUEUE)
    completed(count)
    return {"latencies": [ms for r in reports() for ms in r["latencies"]]}


if __name__ == "__main__":
    scenario, *args = sys.argv[1:]
    numbers = [float(a) if "." in a else int(a) for a in args]
    run = {"batch": batch, "single": single, "drain": drain, "endtoend": endtoend, "latency": latency}[scenario]
    print(json.dumps(run(*numbers)), flush=True)  # type: ignore[operator]
