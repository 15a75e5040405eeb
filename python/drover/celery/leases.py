"""The leases a Celery worker holds, from claim until the task's outcome is known, and how one ends.

The process that claims (Celery's consumer, the pool's parent) holds each lease and heartbeats it
at a third of its length, whatever Celery's ack timing: a kombu ack only means Celery is done with
the message. The outcome ends the lease: an ack with the result, a fail, or a release. In the
prefork pool the child that ran the task ends it (leases.end from its signal handlers) and tells
the parent down a pipe (Ended), which lets it go without a call to the hub; were that word lost,
the parent's next heartbeat would meet 409 lease_lost and let it go. A lease whose message Celery
has finished with, and whose task is no longer reserved or running in this worker, got no outcome
(a hard time limit, a child killed): the parent ends it as a failure, so no lease is heartbeated
for ever. If the whole worker dies, its leases expire and another worker gets the task.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from .._http import Hub
from ..errors import DroverError, LeaseLost, NotFound

log = logging.getLogger("drover.celery")

# The SDK's bounds on the heartbeat interval (docs/protocol.md, Leases).
BEAT_MIN, BEAT_MAX = 0.5, 10.0


@dataclass
class Held:
    hub: Hub
    lease_id: str
    task_id: str
    lease_seconds: float
    next_beat: float
    settled: bool = False  # Celery acked or rejected the message
    unowned: int = 0  # checks in a row that found it settled and not reserved or running here
    revoked: bool = False


class Ended:
    """A pipe made before the prefork pool forks, on which a child names each lease it ended.

    Without it the parent, which holds every lease its consumer claimed, heartbeats each one once
    more after the child acked it, only to meet 409 lease_lost: a call to the hub for every task.
    Each id is one write of a few dozen bytes, under PIPE_BUF, so writes never interleave; a full
    pipe drops the word and the heartbeat finds out as before.
    """

    def __init__(self) -> None:
        self.owner = os.getpid()  # the process that imported this: Celery's worker, the parent
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self.rest = b""

    def tell(self, lease_id: str) -> None:
        """In a child: the parent may stop heartbeating `lease_id`."""
        if os.getpid() == self.owner:
            return
        try:
            os.write(self.write_fd, lease_id.encode() + b"\n")
        except OSError:
            pass

    def read(self) -> list[str]:
        """In the parent: the lease ids the children ended since the last read."""
        data = self.rest
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        *ids, self.rest = data.split(b"\n")
        return [i.decode() for i in ids if i]


class Leases:
    """This process's held leases; one heartbeat thread, started with the first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_lease: dict[str, Held] = {}
        self.thread: threading.Thread | None = None
        self.consumer: Any = None  # Celery's consumer (worker_ready), for its pool
        self.ended = Ended()

    def hold(self, hub: Hub, lease_id: str, task_id: str, lease_seconds: float) -> None:
        beat = min(BEAT_MAX, max(BEAT_MIN, lease_seconds / 3))
        with self.lock:
            self.by_lease[lease_id] = Held(hub, lease_id, task_id, lease_seconds, time.monotonic() + beat)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.loop, name="drover-leases", daemon=True)
                self.thread.start()

    def get(self, lease_id: str) -> Held | None:
        with self.lock:
            return self.by_lease.get(lease_id)

    def lease_of(self, task_id: str) -> str | None:
        with self.lock:
            return next((h.lease_id for h in self.by_lease.values() if h.task_id == task_id), None)

    def settle(self, lease_id: str) -> None:
        with self.lock:
            held = self.by_lease.get(lease_id)
            if held is not None:
                held.settled = True

    def forget(self, lease_id: str) -> None:
        with self.lock:
            self.by_lease.pop(lease_id, None)

    def loop(self) -> None:
        while True:
            time.sleep(0.2)
            now = time.monotonic()
            ended = self.ended.read()
            with self.lock:
                for lease_id in ended:
                    self.by_lease.pop(lease_id, None)
                due = [h for h in self.by_lease.values() if h.next_beat <= now]
            for held in due:
                self.beat(held)

    def beat(self, held: Held) -> None:
        held.next_beat = time.monotonic() + min(BEAT_MAX, max(BEAT_MIN, held.lease_seconds / 3))
        if held.settled and not still_here(held.task_id):
            held.unowned += 1
            if held.unowned >= 2:
                # Celery is done with it and nobody reported an outcome.
                error = {"type": "WorkerLostError", "message": "the worker finished with the task without reporting its outcome (a hard time limit, or its process died)"}
                end(held.hub, held.lease_id, "fail", {"error": error, "retry": False})
                return
        try:
            answer = held.hub.call("POST", f"/v1/leases/{held.lease_id}/heartbeat", {"extendSeconds": held.lease_seconds})
        except (LeaseLost, NotFound):
            self.forget(held.lease_id)  # ended elsewhere (a prefork child), or expired
            return
        except DroverError as err:
            log.warning("heartbeat of %s failed: %s", held.task_id, err)
            return
        if answer.get("revoked") and not held.revoked:
            held.revoked = True
            self.terminate(held.task_id)

    def terminate(self, task_id: str) -> None:
        """The hub says the running task was revoked: end it as Celery's `revoke(terminate=True)` does."""
        try:
            from celery.worker import state
        except ImportError:  # pragma: no cover - celery is what runs this
            return
        state.revoked.add(task_id)
        pool = getattr(self.consumer, "pool", None)
        for request in list(state.active_requests):
            if request.id == task_id and pool is not None:
                try:
                    request.terminate(pool, signal=signal.SIGTERM)
                    log.info("terminated %s: it was revoked", task_id)
                except NotImplementedError:
                    log.info("%s was revoked; this pool cannot stop a running task, its outcome will not count", task_id)


def still_here(task_id: str) -> bool:
    """Whether this worker's Celery still has the task reserved or running (celery.worker.state)."""
    try:
        from celery.worker import state
    except ImportError:  # pragma: no cover
        return False
    return any(r.id == task_id for r in list(state.active_requests) + list(state.reserved_requests))


LEASES = Leases()


def end(hub: Hub, lease_id: str, how: str, body: dict[str, Any] | None = None) -> str | None:
    """Ends a lease: how is "ack", "fail" or "release". Answers the task's state then, or None when
    the lease had already ended (409: another process of this worker ended it, or it expired)."""
    LEASES.forget(lease_id)
    try:
        return _end(hub, lease_id, how, body)
    finally:
        # Once the hub has the outcome (or it was given up): the parent stops heartbeating it then.
        LEASES.ended.tell(lease_id)


def _end(hub: Hub, lease_id: str, how: str, body: dict[str, Any] | None) -> str | None:
    for attempt in range(1, 6):
        try:
            answer = hub.call("POST", f"/v1/leases/{lease_id}/{how}", body or {})
            return str(answer.get("state")) if answer else None
        except (LeaseLost, NotFound):
            return None
        except DroverError as err:
            if 0 < err.status < 500 or attempt == 5:
                log.error("could not %s lease %s: %s; it will expire and the task run again", how, lease_id, err)
                return None
            time.sleep(0.25 * 2**attempt)
    return None
