"""The Python worker: claims jobs of its queues, runs them in a pool, heartbeats their leases, acks
or fails each once, and stops warm (finish what runs) or cold (hand every lease back)."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .acks import AckBatcher
from .app import Drover
from .control import Control
from .errors import DroverError, Forbidden, InvalidRequest, LeaseLost, Unauthorized
from .execute import Outcome
from .jobs import Active, Reporter
from .pools import PreforkPool, ThreadPool
from .rates import TaskRates
from .request import Request
from .worker_log import WorkerLog

# docs/protocol.md: a claim takes at most 100 task names and hands out at most 100 jobs.
CLAIM_LIMIT = 100
# How long a busy worker waits for more of its slots to free before it claims.
GATHER_SECONDS = 0.01


def beat_every(lease_expires_at: str) -> float:
    """Heartbeat a third of the way through the lease, at least every 10 s (a revoke is noticed soon), at most every 0.5 s."""
    ends = datetime.fromisoformat(lease_expires_at.replace("Z", "+00:00"))
    left = (ends - datetime.now(timezone.utc)).total_seconds()
    return min(10.0, max(0.5, left / 3))


@dataclass
class Settings:
    spec: str
    queues: list[str]
    region: str | None = None
    concurrency: int = 4
    pool: str = "threads"
    name: str = ""
    grace: float = 30.0
    wait_seconds: float = 5.0
    extra: dict[str, Any] = field(default_factory=dict)


class Worker:
    def __init__(self, app: Drover, settings: Settings, log: WorkerLog) -> None:
        self.app = app
        self.hub = app.hub
        self.settings = settings
        self.name = settings.name
        self.log = log
        self.concurrency = settings.concurrency
        self.cond = threading.Condition()
        self.active: dict[str, Active] = {}  # by lease, from claim until reported
        self.running = 0  # handlers not yet returned: what the slots count
        self.stopping = threading.Event()  # warm: no more claims
        self.cold = threading.Event()
        self.refused: DroverError | None = None
        self.counts = {"succeeded": 0, "failed": 0, "retried": 0, "revoked": 0, "abandoned": 0, "released": 0}
        self.pool: ThreadPool | PreforkPool = PreforkPool(settings.spec, self.concurrency) if settings.pool == "prefork" else ThreadPool(app)
        self.reporter = Reporter(self, AckBatcher(self.hub, log, lambda: self.running))
        self.claimer = threading.Thread(target=self.claim_loop, name="claims", daemon=True)
        self.control = Control(self)
        names = sorted(app.tasks)
        # Past a claim's 100 names the worker claims any task and answers NotRegistered for the rest.
        self.claim_tasks = names if len(names) <= CLAIM_LIMIT else None
        self.rates = TaskRates()
        for task in app.tasks.values():
            if task.rate_limit is not None:
                self.rates.set(task.name, task.rate_limit)

    # -- claiming -------------------------------------------------------------------------------

    def free(self) -> int:
        """Slots not running a handler, and no more than `concurrency` jobs awaiting the hub's answer
        to their ack or fail besides: a hub slow to answer slows claims rather than piling them up."""
        return min(self.concurrency - self.running, 2 * self.concurrency - len(self.active))

    def open_tasks(self) -> tuple[list[str] | None, int]:
        """The task names a claim asks for (None: any) and how many jobs it may take: every
        registered task not held back by its rate limit now; when all of them have a limit, no more
        jobs than their limits allow to start now."""
        most = min(CLAIM_LIMIT, max(1, self.free()))
        if self.claim_tasks is None:
            return None, most  # any task: jobs over a limit are handed back as they come
        names: list[str] = []
        allowed = 0
        for name in self.claim_tasks:
            starts = self.rates.starts(name)
            if starts is None:
                allowed = most
            if starts is None or starts > 0:
                names.append(name)
                allowed += starts or 0
        return names, min(most, allowed)

    def claim(self, queue: str, wait: float) -> list[dict[str, Any]]:
        tasks, most = self.open_tasks()
        if tasks == [] or most <= 0:
            return []
        if tasks is not None and len(tasks) < len(self.claim_tasks or ()):
            # A task is held back by its limit: the claim waits no longer than until it may start,
            # so that its jobs are not kept waiting behind a wait for the others.
            wait = min(wait, max(0.001, self.rates.next_opening()))
        body: dict[str, Any] = {"worker": self.name, "region": self.settings.region, "max": most, "waitSeconds": wait}
        if tasks is not None:
            body["tasks"] = tasks
        jobs: list[dict[str, Any]] = self.hub.call("POST", f"/v1/queues/{queue}/claim", body)["jobs"]
        return jobs

    def claim_loop(self) -> None:
        backoff = 0.0
        # A busy worker claims in batches, as the Node worker does: it gives all its slots (at most
        # a claim's 100) up to 10 ms to free, so fast tasks cost one large claim per round rather
        # than one per job, while a slot freed beside long tasks is still filled 10 ms later. Busy:
        # its last claim found at least half a batch. Otherwise a freed slot claims at once.
        busy = False
        while not self.stopping.is_set():
            queues = self.settings.queues
            with self.cond:
                # A timeout: a signal sets `stopping` without notifying this condition.
                while self.free() <= 0 and not self.stopping.is_set():
                    self.cond.wait(0.2)
                batch = min(CLAIM_LIMIT, self.concurrency)
                gather = time.monotonic() + GATHER_SECONDS
                while busy and self.free() < batch and self.running > 0 and not self.stopping.is_set() and (left := gather - time.monotonic()) > 0:
                    self.cond.wait(left)
                if self.open_tasks()[0] == []:
                    # Every task is at its rate limit: claim again when the first may start (or a
                    # remote control command changes a limit and notifies).
                    self.cond.wait(min(0.2, self.rates.next_opening()))
                    continue
            if self.stopping.is_set():
                break
            try:
                jobs: list[dict[str, Any]] = []
                # Queues in the order given: the first with work wins. With several, none waits
                # long, so work on a later queue is not held up behind a wait on an earlier one.
                for queue in queues:
                    jobs = self.claim(queue, self.settings.wait_seconds if len(queues) == 1 else 0)
                    if jobs:
                        break
                if not jobs and len(queues) > 1:
                    jobs = self.claim(queues[0], min(1.0, self.settings.wait_seconds))
                busy = len(jobs) >= (batch + 1) // 2
                if backoff:
                    self.log.message("the hub answers again; claiming")
                backoff = 0.0
            except (Unauthorized, Forbidden, InvalidRequest) as err:
                self.refused = err
                region = self.settings.region
                needs = f"consume@{region}, consume or admin" if region else "consume or admin"
                scope = f"; claiming from {', '.join(queues)}{f' in region {region}' if region else ''} needs a token with the scope {needs}"
                self.log.message(f"the hub refuses this worker's claim ({err}){'' if isinstance(err, InvalidRequest) else scope}", "error")
                self.stopping.set()
                break
            except DroverError as err:
                backoff = min(30.0, backoff * 2 if backoff else 0.5)
                self.log.message(f"claim failed, {err}; retrying in {backoff:g}s", "warning")
                self.stopping.wait(backoff)
                continue
            for job in jobs:
                # A job over its task's rate limit goes back to its queue (the attempt does not count).
                if self.stopping.is_set() or not self.rates.take(job["task"]):
                    self.release(job["leaseId"], job["id"])
                else:
                    self.start(job)

    def start(self, job: dict[str, Any]) -> None:
        request = Request.of_job(job, self.name)
        task = self.app.tasks.get(job["task"])
        now = time.monotonic()
        active = Active(job, request, now, now + beat_every(job["leaseExpiresAt"]), task.time_limit if task else None)
        with self.cond:
            self.active[request.lease_id] = active
            self.running += 1
        self.log.event("received", request.task, request.id, request.attempt, request.max_retries + 1)
        self.pool.run(request, lambda outcome: self.finished(active, outcome))

    def finished(self, active: Active, outcome: Outcome) -> None:
        """A handler returned (in its own thread): free the slot, then report."""
        with self.cond:
            active.finished = True
            active.runtime = time.monotonic() - active.started
            self.running -= 1
            self.cond.notify_all()
        self.reporter.report(active, outcome, lambda: self.forget(active))

    def forget(self, active: Active) -> None:
        with self.cond:
            self.active.pop(active.request.lease_id, None)
            self.cond.notify_all()

    def release(self, lease_id: str, task_id: str) -> None:
        try:
            self.hub.call("POST", f"/v1/leases/{lease_id}/release", {})
            self.counts["released"] += 1
        except DroverError as err:
            self.log.message(f"could not hand back {task_id} ({err}); its lease will expire", "warning")

    # -- leases ---------------------------------------------------------------------------------

    def lease_loop(self) -> None:
        """Heartbeats each running job's lease before it expires, and ends jobs past their time limit."""
        while not self.cold.is_set():
            now = time.monotonic()
            with self.cond:
                live = [a for a in self.active.values() if not a.finished and a.stopped is None]
            for active in live:
                if active.time_limit is not None and now - active.started > active.time_limit:
                    self.reporter.over_time(active)
                elif active.next_beat <= now:
                    self.beat(active)
            self.cold.wait(0.05)

    def beat(self, active: Active) -> None:
        try:
            answer = self.hub.call("POST", f"/v1/leases/{active.request.lease_id}/heartbeat", {})
        except LeaseLost:
            self.stop_job(active, "lost")
            return
        except DroverError as err:
            self.log.message(f"heartbeat of {active.request.id} failed ({err}); trying again", "warning")
            active.next_beat = time.monotonic() + 1.0
            return
        if answer.get("revoked"):
            self.stop_job(active, "revoked")
            return
        active.next_beat = time.monotonic() + beat_every(answer["leaseExpiresAt"])

    def stop_job(self, active: Active, why: str) -> bool:
        """Marks a running job stopped (revoked, lost, time_limit, released) and tells its pool; False if it already ended."""
        with self.cond:
            if active.finished or active.stopped is not None:
                return False
            active.stopped = why
        self.pool.stop(active.request)
        return True

    # -- running and stopping -------------------------------------------------------------------

    def run(self) -> int:
        """Works until stop() (warm) and then cold() or the grace ends; answers the exit status."""
        s = self.settings
        self.log.message(f"{self.name} working {', '.join(s.queues)}{f' in region {s.region}' if s.region else ''} with {self.concurrency} slot(s) ({s.pool}), pid {os.getpid()}; tasks: {', '.join(sorted(self.app.tasks))}")
        self.claimer.start()
        threading.Thread(target=self.lease_loop, name="leases", daemon=True).start()
        threading.Thread(target=self.control.loop, name="control", daemon=True).start()
        while not self.stopping.is_set():
            self.stopping.wait(0.2)
        if self.refused is not None:
            self.pool.close()
            return 2
        with self.cond:
            self.log.message(f"warm shutdown: no more claims; {self.running} task(s) running get {s.grace:g}s to finish (a second signal: cold shutdown)", "warning")
            deadline = time.monotonic() + s.grace
            while self.active and not self.cold.is_set() and time.monotonic() < deadline:
                self.cond.wait(0.1)
        if self.cold.is_set():
            return self.cold_stop()
        with self.cond:
            unfinished = [a for a in self.active.values() if not a.finished]
        if unfinished:
            self.log.message(f"grace period over: handing back {len(unfinished)} unfinished job(s)", "warning")
            self.hand_back(unfinished)
        self.claimer.join(s.wait_seconds + 10)
        self.reporter.acks.flush(30)
        self.pool.close()
        self.control.leave()
        self.log.message(f"stopped: {self.counts}")
        return 0

    def hand_back(self, jobs: list[Active]) -> None:
        for active in jobs:
            if self.stop_job(active, "released"):
                self.release(active.request.lease_id, active.request.id)

    def cold_stop(self) -> int:
        with self.cond:
            held = [a for a in self.active.values() if not a.finished]
        self.log.message(f"cold shutdown: handing back {len(held)} running job(s) at once", "warning")
        self.hand_back(held)
        # A claim still waiting at the hub would get those very jobs back: it ends within its
        # wait and the claim loop hands back what it brings.
        self.claimer.join(self.settings.wait_seconds + 10)
        self.reporter.acks.flush(5)
        self.pool.close()
        self.control.leave()
        return 1
