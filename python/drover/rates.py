"""Per-task start limits of one worker (`@app.task(rate_limit="10/s")`, or remote control's
`rate-limit`), as Celery's rate_limit: at most N starts of the task per second, minute or hour."""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
RATE = re.compile(r"^([1-9]\d{0,8})/([smh])$")


def parse_rate(rate: str) -> tuple[int, float] | None:
    """"10/s", "100/m", "1000/h" (N a positive whole number) as (N, seconds), or None if malformed."""
    m = RATE.match(rate)
    return (int(m.group(1)), PERIODS[m.group(2)]) if m else None


@dataclass
class Bucket:
    n: int
    period: float
    tokens: float
    at: float
    rate: str


class TaskRates:
    """A bucket of N tokens per limited task, refilled at N per period: bursts of up to N starts,
    N per period over time. A task without a limit always starts. Safe across threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}
        self.lock = threading.Lock()

    def set(self, task: str, rate: str | None) -> bool:
        """Sets or (None) lifts a task's limit; False when the rate is malformed."""
        with self.lock:
            if rate is None:
                self.buckets.pop(task, None)
                return True
            parsed = parse_rate(rate)
            if parsed is None:
                return False
            n, period = parsed
            self.buckets[task] = Bucket(n, period, float(n), self.clock(), rate)
            return True

    def _refill(self, task: str) -> Bucket | None:
        b = self.buckets.get(task)
        if b is not None:
            now = self.clock()
            b.tokens = min(float(b.n), b.tokens + (now - b.at) * b.n / b.period)
            b.at = now
        return b

    def take(self, task: str) -> bool:
        """Takes a start of the task if its limit allows one now."""
        with self.lock:
            b = self._refill(task)
            if b is None:
                return True
            if b.tokens < 1:
                return False
            b.tokens -= 1
            return True

    def starts(self, task: str) -> int | None:
        """How many starts of the task its limit allows now; None without a limit."""
        with self.lock:
            b = self._refill(task)
            return None if b is None else int(b.tokens)

    def next_opening(self) -> float:
        """Seconds until the first task at its limit may start again (0 if none is)."""
        with self.lock:
            soonest = float("inf")
            for task in list(self.buckets):
                b = self._refill(task)
                assert b is not None
                if b.tokens < 1:
                    soonest = min(soonest, (1 - b.tokens) * b.period / b.n)
            return 0.0 if soonest == float("inf") else soonest

    @property
    def limits(self) -> dict[str, str]:
        with self.lock:
            return {task: b.rate for task, b in self.buckets.items()}
