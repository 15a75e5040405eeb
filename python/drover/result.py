"""AsyncResult: a task by id, read from the hub, shaped like Celery's."""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from .errors import TaskFailed, TimeoutError

if TYPE_CHECKING:
    from .app import Drover

FINAL = frozenset({"succeeded", "failed", "revoked", "expired"})

# drover's states under the names Celery code compares with (`result.state == "SUCCESS"`).
CELERY_STATES = {
    "queued": "PENDING",
    "delayed": "PENDING",
    "running": "STARTED",
    "succeeded": "SUCCESS",
    "failed": "FAILURE",
    "revoked": "REVOKED",
    "expired": "REVOKED",
}


class AsyncResult:
    """A task by id. Each property reads the hub afresh (one GET), as Celery's does from its backend."""

    def __init__(self, id: str, app: Drover) -> None:  # noqa: A002 - Celery's name
        self.id = id
        self.app = app

    @property
    def task_id(self) -> str:
        return self.id

    def __repr__(self) -> str:
        return f"<AsyncResult: {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncResult) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def info(self, wait: float | None = None) -> dict[str, Any]:
        """The task's whole record (GET /v1/tasks/:id); `wait` holds the call up to 60 s for it to end."""
        query = "" if wait is None else f"?wait={max(0.0, min(wait, 60.0)):g}"
        record: dict[str, Any] = self.app.hub.call("GET", f"/v1/tasks/{self.id}{query}")
        return record

    @property
    def drover_state(self) -> str:
        """drover's own state: queued, delayed, running, succeeded, failed, revoked or expired."""
        return str(self.info()["state"])

    @property
    def state(self) -> str:
        """Celery's name for the state: PENDING, STARTED, SUCCESS, FAILURE or REVOKED."""
        return CELERY_STATES[self.drover_state]

    status = state

    def ready(self) -> bool:
        return self.drover_state in FINAL

    def successful(self) -> bool:
        return self.drover_state == "succeeded"

    def failed(self) -> bool:
        return self.drover_state == "failed"

    @property
    def result(self) -> Any:
        """The result once succeeded; the TaskFailed once it ended otherwise; None before."""
        record = self.info()
        return _outcome(record)

    @property
    def traceback(self) -> str | None:
        """The traceback the worker reported with the last failure (Python's, or another language's stack)."""
        error = self.info().get("error")
        return error.get("stack") if error else None

    def get(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5) -> Any:
        """Waits for the task to end and answers its result.

        The hub holds each call until the task ends (up to 60 s at a time), so this is not a busy
        poll; `interval` only spaces calls after a transient error. A task that ends other than
        succeeded raises TaskFailed (with propagate=False, the TaskFailed is returned instead).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 60.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"task {self.id} did not end within {timeout} s")
            record = self.info(wait=min(left, 60.0))
            if record["state"] in FINAL:
                outcome = _outcome(record)
                if isinstance(outcome, TaskFailed) and propagate:
                    raise outcome
                return outcome
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"task {self.id} did not end within {timeout} s")

    wait = get

    def revoke(self, terminate: bool = False) -> str:
        """Revokes the task: one not yet running never runs. A running one is left to finish, as
        Celery does, unless `terminate`: then its attempt ends (its handler is told to stop) and the
        task ends revoked. Answers drover's state afterwards."""
        if not terminate and self.drover_state == "running":
            return "running"
        answer: dict[str, Any] = self.app.hub.call("POST", f"/v1/tasks/{self.id}/revoke", {})
        return str(answer["state"])

    async def ainfo(self, wait: float | None = None) -> dict[str, Any]:
        return await _in_thread(self.info, wait)  # type: ignore[no-any-return]

    async def astate(self) -> str:
        return await _in_thread(lambda: self.state)  # type: ignore[no-any-return]

    async def aready(self) -> bool:
        return await _in_thread(self.ready)  # type: ignore[no-any-return]

    async def aget(self, timeout: float | None = None, propagate: bool = True) -> Any:
        return await _in_thread(self.get, timeout, propagate)

    async def arevoke(self, terminate: bool = False) -> str:
        return await _in_thread(self.revoke, terminate)  # type: ignore[no-any-return]


# The asyncio variants: the same calls, run in a worker thread so the event loop is not blocked
# (http.client is blocking; the standard library has no asyncio HTTP client).

async def _in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


def _outcome(record: dict[str, Any]) -> Any:
    state = record["state"]
    if state == "succeeded":
        return record.get("result")
    if state in FINAL:
        return TaskFailed(record["id"], state, record.get("error"))
    return None
