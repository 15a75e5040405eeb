"""What the worker prints: a line per task event and per worker message, in the bracketed form Celery's
worker uses and people grep (`[time: LEVEL/worker] Task name[id] succeeded in 0.012s: 5`), or with
--json one JSON object per line. Lines below --loglevel are not written."""
from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, TextIO

LEVELS = ("debug", "info", "warning", "error")


def stamp(now: float) -> str:
    """2026-12-05 21:44:00,123, in local time, as Celery prints it."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d}"


def short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class WorkerLog:
    def __init__(self, worker: str, level: str = "info", as_json: bool = False, out: TextIO | None = None) -> None:
        self.worker = worker
        self.level = LEVELS.index(level.lower())
        self.as_json = as_json
        self.out = out or sys.stderr
        self.lock = threading.Lock()

    def emit(self, level: str, text: str, fields: dict[str, Any]) -> None:
        if LEVELS.index(level) < self.level:
            return
        now = time.time()
        if self.as_json:
            record = {"time": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"), "level": level, "worker": self.worker, **fields}
            line = json.dumps(record, default=repr)
        else:
            line = f"[{stamp(now)}: {level.upper()}/{self.worker}] {text}"
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def message(self, text: str, level: str = "info") -> None:
        self.emit(level, text, {"message": text})

    def event(self, event: str, task: str, id: str, attempt: int, attempts: int, level: str = "info", runtime: float | None = None, **more: Any) -> None:  # noqa: A002
        """One step of a job: received, succeeded, failed, retried, revoked or abandoned."""
        if LEVELS.index(level) < self.level:
            return  # before the line is made: at -l warning a busy worker makes none per task
        name = f"Task {task}[{id}]"
        took = "" if runtime is None else f" in {runtime:.3f}s"
        of = f"attempt {attempt} of {attempts}"
        error = more.get("error") or {}
        why = f"{error.get('type')}: {error.get('message')}"
        if event == "received":
            text = f"{name} received ({of})"
        elif event == "succeeded":
            text = f"{name} succeeded{took}: {short(more.get('result'))}"
        elif event == "retried":
            delay = more.get("delay")
            text = f"{name} retry: Retry in {'the backoff' if delay is None else f'{delay:g}s'} ({of}): {why}"
        elif event == "failed":
            text = f"{name} failed{took} ({of}, {'will retry' if more.get('retrying') else 'failed for good'}): {why}" + (f"; {more['note']}" if more.get("note") else "")
        elif event == "revoked":
            text = f"{name} revoked{took} ({of}): {more.get('how', 'its outcome does not count')}"
        else:
            text = f"{name} abandoned{took} ({of}): {more.get('why', 'its outcome does not count')}"
        self.emit(level, text, {"event": event, "task": task, "id": id, "attempt": attempt, "attempts": attempts, **({"runtime": runtime} if runtime is not None else {}), **more})
