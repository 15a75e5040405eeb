"""A claimed job while this worker holds it, and how its outcome reaches the hub: one ack or one fail, logged."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from .acks import AckBatcher
from .errors import DroverError, LeaseLost
from .execute import Outcome
from .request import Request

if TYPE_CHECKING:
    from .worker import Worker


@dataclass
class Active:
    job: dict[str, Any]
    request: Request
    started: float  # time.monotonic()
    next_beat: float
    time_limit: float | None
    # Why its outcome no longer counts as usual: revoked, lost (the lease), time_limit, released.
    stopped: str | None = None
    finished: bool = False  # the handler returned
    runtime: float | None = None
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"))

    @property
    def attempts(self) -> int:
        return self.request.max_retries + 1


class Reporter:
    def __init__(self, worker: Worker, acks: AckBatcher) -> None:
        self.worker = worker
        self.log = worker.log
        self.hub = worker.hub
        self.acks = acks

    def event(self, event: str, active: Active, level: str = "info", **more: Any) -> None:
        r = active.request
        self.log.event(event, r.task, r.id, r.attempt, active.attempts, level, active.runtime, **more)
        if event in self.worker.counts:
            with self.worker.cond:
                self.worker.counts[event] += 1

    def report(self, active: Active, outcome: Outcome, then: Callable[[], None]) -> None:
        """Runs in the job's thread once its handler returned; `then` once the hub has the outcome
        (an ack's answer comes later, from the ack batcher's thread)."""
        if outcome["kind"] == "ok" and active.stopped not in ("time_limit", "lost", "released"):

            def answered(state: str | None) -> None:
                try:
                    self.acked(active, outcome["result"], state)
                finally:
                    then()

            self.acks.add(active.request.lease_id, outcome["result"], answered)
            return
        try:
            self.report_now(active, outcome)
        finally:
            then()

    def report_now(self, active: Active, outcome: Outcome) -> None:
        stopped = active.stopped
        if stopped == "time_limit":
            return  # logged and reported when the limit passed
        if stopped in ("lost", "released"):
            why = "its lease was lost (it expired or another worker ended it)" if stopped == "lost" else "it was handed back to the queue"
            self.event("abandoned", active, "warning", why=f"{why}; its outcome does not count")
            return
        if outcome["kind"] == "killed":
            if stopped == "revoked":
                self.fail(active, {"type": "Revoked", "message": "the task was revoked while it ran; its process was terminated"}, retry=False)
                self.event("revoked", active, "warning", how="its process was terminated")
            else:
                error = {"type": "WorkerLostError", "message": "the process running the task exited before it returned"}
                state = self.fail(active, error, retry=True)
                self.event("failed", active, "error", error=error, retrying=state in ("queued", "delayed"))
            return
        rate_limited = bool(outcome.get("rate_limited"))
        state = self.fail(active, outcome["error"], outcome["retry"], outcome["delay"], rate_limited)
        retrying = state in ("queued", "delayed")
        if state == "revoked" or stopped == "revoked":
            self.event("revoked", active, "warning", how="it was revoked while it ran; it failed meanwhile", error=outcome["error"])
        elif rate_limited and retrying:
            # The hub waits 1 s when the task gave no retry_after (docs/protocol.md).
            delay = outcome["delay"] if outcome["delay"] is not None else 1.0
            self.event("retried", active, "info", error=outcome["error"], delay=delay, rate_limited=True)
        elif outcome["retried"] and retrying:
            self.event("retried", active, "info", error=outcome["error"], delay=outcome["delay"])
        else:
            self.event("failed", active, "warning" if retrying else "error", error=outcome["error"], retrying=retrying)

    def acked(self, active: Active, result: Any, state: str | None) -> None:
        if state == "succeeded":
            self.event("succeeded", active, result=result)
        elif state == "revoked":
            self.event("revoked", active, "warning", how="it was revoked while it ran; its result is not kept")
        # None: the batcher has said why the ack did not go through.

    def fail(self, active: Active, error: dict[str, str], retry: bool, delay: float | None = None, rate_limited: bool = False) -> str | None:
        """POST /fail, tried again while the hub is away; answers the task's state then (None: not reported).
        `rate_limited`: the attempt does not count and the task's rate key pauses for `delay` (1 s if None)."""
        body: dict[str, Any] = {"error": error, "retry": retry}
        if rate_limited:
            body["rateLimited"] = True
        if delay is not None:
            # The protocol takes 0, or 0.001 to 86,400 seconds.
            body["delaySeconds"] = 0 if delay <= 0 else min(86_400.0, max(0.001, delay))
        for attempt in range(1, 7):
            try:
                answer = self.hub.call("POST", f"/v1/leases/{active.request.lease_id}/fail", body)
                return str(answer["state"])
            except LeaseLost:
                self.log.message(f"fail of {active.request.id} refused: its lease is no longer live", "warning")
                return None
            except DroverError as err:
                if 0 < err.status < 500 or attempt == 6:
                    self.log.message(f"could not report the failure of {active.request.id} ({err}); its lease will expire and it will run again", "error")
                    return None
                time.sleep(0.25 * 2**attempt)
        return None

    def over_time(self, active: Active) -> None:
        """A job past its time limit: its outcome will not count, the hub is told now so it runs again."""
        if not self.worker.stop_job(active, "time_limit"):
            return
        limit = active.time_limit
        error = {"type": "TimeLimitExceeded", "message": f"TimeLimitExceeded({limit:g})" if limit is not None else "TimeLimitExceeded"}
        state = self.fail(active, error, retry=True)
        after = "its process was killed" if self.worker.pool.kills else "its thread runs on, holding its slot, until it returns"
        self.log.event("failed", active.request.task, active.request.id, active.request.attempt, active.attempts, "error", time.monotonic() - active.started, error=error, retrying=state in ("queued", "delayed"), note=after)
