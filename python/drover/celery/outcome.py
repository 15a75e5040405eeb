"""A task's outcome ends its lease, in the process that ran it (Celery's signals there).

The transport puts the lease id in the message headers (`drover_lease`); Celery copies headers into
`task.request`, so the process running the task, a prefork child or a thread of the worker, knows
its lease. task_postrun ends it once: success acks with the result; failure fails for good with the
exception and its Python traceback; a retry (task.retry publishes the same id again, intercepted by
the transport, see RETRIES) fails with retry and the delay to its eta, so the hub runs the same task
again as its next attempt. task_revoked and a task_failure sent in the parent (its child died) end
the parent's held lease.
"""
from __future__ import annotations

import json
import logging
import traceback
from typing import Any

from celery import signals, states
from kombu.utils.json import dumps

from ..execute import MESSAGE_LIMIT, RESULT_LIMIT, STACK_LIMIT
from ..errors import Conflict, DroverError, NotFound
from .connect import hub_of_app
from .leases import LEASES, end

log = logging.getLogger("drover.celery")

# Attempts running in this process, task id -> lease id (task_prerun to task_postrun).
RUNNING: dict[str, str] = {}
# Retries the transport intercepted: task id -> seconds until the eta Celery asked for.
RETRIES: dict[str, float] = {}
# Failures and retries seen by task_failure / task_retry, reported at task_postrun.
ERRORS: dict[str, dict[str, str]] = {}


def error_type(exc: BaseException) -> str:
    """An exception's class as Python's traceback prints it: `ValueError`, `myapp.tasks.Boom`.
    The result backend rebuilds the exception from it (module and name)."""
    cls = type(exc)
    name = cls.__qualname__
    return name if cls.__module__ == "builtins" else f"{cls.__module__}.{name}"


def error_of(exc: BaseException, stack: str | None) -> dict[str, str]:
    text = stack if stack else "".join(traceback.format_exception(exc))
    return {"type": error_type(exc)[:200], "message": str(exc)[:MESSAGE_LIMIT], "stack": text[-STACK_LIMIT:]}


def on_prerun(task_id: str, task: Any, **_: Any) -> None:
    lease = getattr(task.request, "drover_lease", None)
    if lease:
        RUNNING[task_id] = lease


def on_failure(sender: Any, task_id: str, exception: BaseException, einfo: Any = None, **_: Any) -> None:
    error = error_of(exception, getattr(einfo, "traceback", None))
    if task_id in RUNNING:
        ERRORS[task_id] = error
        return
    # Sent in the worker's parent: the child running it died (WorkerLostError) before its outcome.
    lease = LEASES.lease_of(task_id)
    held = LEASES.get(lease) if lease else None
    if held is not None:
        end(held.hub, held.lease_id, "fail", {"error": error, "retry": False})


def on_retry(sender: Any, request: Any, reason: Any, einfo: Any = None, **_: Any) -> None:
    task_id = getattr(request, "id", None)
    if task_id in RUNNING:
        cause = getattr(reason, "exc", None) or reason
        ERRORS[str(task_id)] = error_of(cause, getattr(einfo, "traceback", None)) if isinstance(cause, BaseException) else {"type": "Retry", "message": str(reason)[:MESSAGE_LIMIT]}


def on_postrun(task_id: str, task: Any, retval: Any = None, state: str | None = None, **_: Any) -> None:
    lease = RUNNING.pop(task_id, None)
    error = ERRORS.pop(task_id, None)
    delay = RETRIES.pop(task_id, None)
    if lease is None:
        return
    hub = hub_of_app(task.app)
    if delay is not None:
        error = error or {"type": "Retry", "message": f"Retry in {delay:g}s"}
        end(hub, lease, "fail", {"error": error, "retry": True, "delaySeconds": 0 if delay <= 0 else min(86_400.0, max(0.001, delay))})
    elif state == states.SUCCESS:
        acked(hub, lease, task_id, retval)
    elif state == states.RETRY:
        # Retry raised without a new message (raise Retry()): the hub's backoff decides when.
        end(hub, lease, "fail", {"error": error or {"type": "Retry", "message": "Retry"}, "retry": True})
    elif state == states.REJECTED and getattr(retval, "requeue", False):
        end(hub, lease, "release")
    elif state == states.IGNORED:
        end(hub, lease, "ack", {"result": None})
    else:
        error = error or {"type": str(state), "message": f"the task ended {state}"}
        end(hub, lease, "fail", {"error": error, "retry": False})


def acked(hub: Any, lease: str, task_id: str, result: Any) -> None:
    try:
        value = json.loads(dumps(result))  # kombu's json: datetimes, UUIDs and Decimals as Celery sends them
        size = len(json.dumps(value, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        end(hub, lease, "fail", {"error": {"type": "EncodeError", "message": f"the result is not JSON: {exc}"[:MESSAGE_LIMIT]}, "retry": False})
        return
    if size > RESULT_LIMIT:
        end(hub, lease, "fail", {"error": {"type": "PayloadTooLarge", "message": f"the result is {size} bytes of JSON; an ack takes at most {RESULT_LIMIT}"}, "retry": False})
        return
    end(hub, lease, "ack", {"result": value})


def on_revoked(sender: Any, request: Any, terminated: bool = False, expired: bool = False, **_: Any) -> None:
    """Celery's worker discarded or terminated the task (its revoked list, an expiry, revoke with
    terminate): the hub's task ends revoked too, and the lease is handed back."""
    task_id = str(getattr(request, "id", ""))
    lease = getattr(request, "drover_lease", None) or LEASES.lease_of(task_id)
    held = LEASES.get(lease) if lease else None
    if held is None:
        return
    try:
        held.hub.call("POST", f"/v1/tasks/{task_id}/revoke", {})
    except (Conflict, NotFound):
        pass
    except DroverError as err:
        log.warning("could not revoke %s on the hub: %s", task_id, err)
    end(held.hub, held.lease_id, "release")


def on_worker_init(sender: Any, **_: Any) -> None:
    from .transport import WORKER

    WORKER["name"] = str(getattr(sender, "hostname", None) or WORKER["name"])


def on_worker_ready(sender: Any, **_: Any) -> None:
    LEASES.consumer = sender


# Connected strongly: the handlers live as long as the process.
signals.task_prerun.connect(on_prerun, weak=False)
signals.task_failure.connect(on_failure, weak=False)
signals.task_retry.connect(on_retry, weak=False)
signals.task_postrun.connect(on_postrun, weak=False)
signals.task_revoked.connect(on_revoked, weak=False)
signals.worker_init.connect(on_worker_init, weak=False)
signals.worker_ready.connect(on_worker_ready, weak=False)
