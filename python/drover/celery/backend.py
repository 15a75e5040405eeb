"""Celery's result backend over drover: `result_backend = "drover://:TOKEN@host:port"`.

Results live in drover's task records (GET /v1/tasks/:id), written by the leases' ends
(outcome.py): the worker's success acks with the result, its failure fails with the exception and
traceback. So store_result writes nothing (the worker's trace would write each result twice), and
a task's state is drover's, named as Celery names it.
"""
from __future__ import annotations

import time
import urllib.parse
from typing import Any

from celery import states
from celery.backends.base import BaseBackend
from celery.exceptions import TimeoutError as CeleryTimeoutError

from .._http import Hub
from ..errors import DroverError, NotFound
from . import chords

FINAL = frozenset({"succeeded", "failed", "revoked", "expired"})
STATES = {
    "queued": states.PENDING,
    "delayed": states.PENDING,
    "running": states.STARTED,
    "succeeded": states.SUCCESS,
    "failed": states.FAILURE,
    "revoked": states.REVOKED,
    "expired": states.REVOKED,
}


def exception_of(error: dict[str, Any] | None, default_type: str = "Exception") -> dict[str, Any]:
    """drover's task error as Celery's serialized exception: `myapp.tasks.Boom` is class Boom of
    module myapp.tasks (rebuilt if that module is loaded here, else a class of that name)."""
    error = error or {}
    kind = str(error.get("type") or default_type)
    module, _, name = kind.rpartition(".")
    return {"exc_type": name, "exc_module": module or "builtins", "exc_message": [error.get("message", "")]}


class DroverBackend(BaseBackend):  # type: ignore[misc]
    supports_native_join = False
    # The hub removes task records once their queue's retention has passed (7 days by default):
    # beat needs no celery.backend_cleanup task for them.
    supports_autoexpire = True
    # One GET reads a task whatever its state; nothing here to retry but the hub's 503s.

    def __init__(self, app: Any, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(app, url=url, **kwargs)
        parts = urllib.parse.urlsplit(url or app.conf.broker_url)
        options = dict(app.conf.broker_transport_options or {})
        options.update(app.conf.result_backend_transport_options or {})
        token = urllib.parse.unquote(parts.password or "") or options.get("token")
        if not token:
            raise ValueError("drover's result backend needs a token: drover://:TOKEN@host:port, or result_backend_transport_options={'token': ...}")
        scheme = "https" if parts.scheme == "droverss" else "http"
        # No port: npm start's 8787 over http, the https default over https (as the transport).
        port = f":{parts.port}" if parts.port else (":8787" if scheme == "http" else "")
        self.hub_url = f"{scheme}://{parts.hostname or '127.0.0.1'}{port}"
        self.url = url
        self.hub = Hub(self.hub_url, token)

    def as_uri(self, include_password: bool = False) -> str:
        return f"drover://{'***@' if not include_password else ''}{self.hub_url.split('://', 1)[1]}"

    # Writing: the lease ends write results (outcome.py); these are what Celery's worker calls.

    def store_result(self, task_id: str, result: Any, state: str, traceback: Any = None, request: Any = None, **kwargs: Any) -> Any:
        # A state of the task's own (task.update_state(state="PROGRESS", meta=...)) rides the
        # lease's heartbeat as its progress; the others are the lease ends' to write.
        lease = getattr(request, "drover_lease", None)
        if lease and state not in states.ALL_STATES:
            try:
                self.hub.call("POST", f"/v1/leases/{lease}/heartbeat", {"progress": {"state": state, "meta": result}})
            except DroverError:
                pass  # progress is best effort: the lease may have ended
        return result

    def apply_chord(self, header_result_args: Any, body: Any, **kwargs: Any) -> None:
        """The hub counts the chord (chords.py): its members' messages, published next, go to the hub
        as one chord workflow, and the hub makes the body once they all succeeded. A chord it cannot
        take is Celery's own way: a chord_unlock task that waits for the header."""
        group_id, results = header_result_args[0], header_result_args[1]
        if chords.handled_by_hub(body, len(results)):
            chords.expect(self.app, group_id, [r.id for r in results], body)
            return
        super().apply_chord(header_result_args, body, **kwargs)

    def _store_result(self, *args: Any, **kwargs: Any) -> None:
        pass

    def forget(self, task_id: str) -> None:
        """Forgets the cached meta only: drover keeps a task's record until its queue's retention
        has passed (7 days unless configured); there is no call that deletes one sooner."""
        self._cache.pop(task_id, None)

    def _forget(self, task_id: str) -> None:
        pass

    # Reading.

    def _get_task_meta_for(self, task_id: str, wait: float | None = None) -> dict[str, Any]:
        query = "" if wait is None else f"?wait={max(0.0, min(wait, 60.0)):g}"
        try:
            record: dict[str, Any] = self.hub.call("GET", f"/v1/tasks/{task_id}{query}")
        except NotFound:
            return {"task_id": task_id, "status": states.PENDING, "result": None, "traceback": None, "children": []}
        meta: dict[str, Any] = self.meta_from_decoded(meta_of(record))
        return meta

    def wait_for(self, task_id: str, timeout: float | None = None, interval: float = 0.5, no_ack: bool = True, on_interval: Any = None) -> dict[str, Any]:
        """Waits for the task to end: the hub holds each read until it does (60 s at most), so this
        is one request a minute at worst, not a poll every `interval`."""
        self._ensure_not_eager()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 60.0 if deadline is None else deadline - time.monotonic()
            # on_interval (a group's or chord's join) wants calling now and then: every few seconds.
            wait = min(left, 60.0 if on_interval is None else max(interval, 1.0))
            meta = self._get_task_meta_for(task_id, wait=max(0.0, wait))
            if meta["status"] in states.READY_STATES:
                # A failure is the parents' first when one of them failed (the join raises it), as
                # Celery's get looks at a chord's header before its body: the hub fails a chord's
                # body within milliseconds of its member, inside the same wait.
                if on_interval and meta["status"] in states.PROPAGATE_STATES:
                    on_interval()
                return meta
            if on_interval:
                on_interval()
            if deadline is not None and time.monotonic() >= deadline:
                raise CeleryTimeoutError("The operation timed out.")


def meta_of(record: dict[str, Any]) -> dict[str, Any]:
    """A drover task record as Celery's task meta (what AsyncResult reads)."""
    state = record["state"]
    status = STATES.get(state, states.PENDING)
    error = record.get("error")
    result: Any = None
    traceback = None
    if state == "succeeded":
        result = record.get("result")
    elif state == "failed":
        result, traceback = exception_of(error), (error or {}).get("stack")
    elif state == "revoked" and error and error.get("type") == "WorkflowFailed":
        # A chord's body the hub never ran because a member failed: Celery's ChordError.
        status, result = states.FAILURE, {"exc_type": "ChordError", "exc_module": "celery.exceptions", "exc_message": [error["message"]]}
    elif state in ("revoked", "expired"):
        result = {"exc_type": "TaskRevokedError", "exc_module": "celery.exceptions", "exc_message": [state]}
    elif state == "running" and isinstance(record.get("progress"), dict) and "state" in record["progress"]:
        status, result = str(record["progress"]["state"]), record["progress"].get("meta")
    elif state in ("queued", "delayed") and error and record.get("attempts", 0) > 0:
        # Between attempts: the last one failed and another is due (Celery's RETRY).
        status, result, traceback = states.RETRY, exception_of(error), error.get("stack")
    return {
        "task_id": record["id"],
        "status": status,
        "result": result,
        "traceback": traceback,
        "children": [],
        "date_done": record.get("finishedAt"),
        "name": record.get("task"),
        "args": record.get("args"),
        "kwargs": record.get("kwargs"),
        "worker": record.get("worker"),
        "retries": max(0, int(record.get("attempts") or 0) - 1),
        "queue": record.get("queue"),
    }
