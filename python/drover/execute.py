"""Runs one attempt of a task and says how it ended, as plain data a thread or a child process hands back.

No HTTP here: the worker reports the outcome. An outcome is one of
  {"kind": "ok", "result": JSON}
  {"kind": "fail", "error": {"type", "message", "stack"}, "retry": bool, "delay": seconds or None, "retried": bool, "rate_limited": bool}
`retried` marks a retry the task asked for (`self.retry()`), as opposed to an error; `rate_limited`
an attempt that does not count, since the site it called said "too many requests" (`raise RateLimited(...)`).
"""
from __future__ import annotations

import json
import random
import traceback
from typing import TYPE_CHECKING, Any

from .errors import RateLimited, Retry
from .request import Request

if TYPE_CHECKING:
    from .app import Task

# docs/protocol.md: an ack's result is at most 128 KiB; the fail body's message and stack have limits too.
RESULT_LIMIT = 128 * 1024
MESSAGE_LIMIT = 10_000
STACK_LIMIT = 65_536

Outcome = dict[str, Any]


def error_of(exc: BaseException, stack: str | None = None) -> dict[str, str]:
    """A Python exception as the protocol's task error: its class name, message and traceback."""
    text = stack if stack is not None else "".join(traceback.format_exception(exc))
    return {"type": type(exc).__name__[:200] or "Exception", "message": str(exc)[:MESSAGE_LIMIT], "stack": text[-STACK_LIMIT:]}


def fail(error: dict[str, str], retry: bool, delay: float | None = None, retried: bool = False, rate_limited: bool = False) -> Outcome:
    return {"kind": "fail", "error": error, "retry": retry, "delay": delay, "retried": retried, "rate_limited": rate_limited}


def backoff(task: Task[Any], retries: int) -> float | None:
    """Celery's autoretry countdown: retry_backoff x 2^retries, at most retry_backoff_max, full jitter.
    None (the hub's own backoff) when the task sets no retry_backoff."""
    if not task.retry_backoff:
        return None
    countdown = min(task.retry_backoff_max, task.retry_backoff * 2**retries)
    return random.uniform(0, countdown) if task.retry_jitter else countdown


def execute(task: Task[Any] | None, request: Request) -> Outcome:
    """Calls the task with the job's args and kwargs, `self.request` set to this attempt."""
    if task is None:
        # Retried: another worker of the queue may know the task.
        return fail({"type": "NotRegistered", "message": f"Received unregistered task of type {request.task!r}"}, retry=True)
    task._running(request)
    try:
        result = task(*request.args, **request.kwargs)
    except Retry as signal:
        stack = traceback.format_exc()
        error = error_of(signal.exc, stack) if signal.exc is not None else error_of(signal, stack)
        return fail(error, retry=True, delay=signal.countdown, retried=True)
    except Exception as exc:  # noqa: BLE001 - any error of the task is its outcome
        error = error_of(exc, traceback.format_exc())
        if isinstance(exc, RateLimited) and exc.raised_by_task:
            # Not the hub's 429 to a call the task made: the site's, which the hub answers by pausing the key.
            return fail(error, retry=True, delay=exc.retry_after, rate_limited=True)
        if request.given_up or getattr(exc, "retryable", True) is False:
            return fail(error, retry=False)
        if task.autoretry_for:
            # Celery retries only what autoretry_for names; anything else fails the task.
            if isinstance(exc, task.autoretry_for):
                return fail(error, retry=True, delay=backoff(task, request.retries))
            return fail(error, retry=False)
        return fail(error, retry=True)  # drover's default, as the TypeScript worker: retried while retries remain
    finally:
        task._running(None)
    try:
        size = len(json.dumps(result, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        return fail({"type": "EncodeError", "message": f"the result is not JSON: {exc}"[:MESSAGE_LIMIT]}, retry=False)
    if size > RESULT_LIMIT:
        return fail({"type": "PayloadTooLarge", "message": f"the result is {size} bytes of JSON; an ack takes at most {RESULT_LIMIT}"}, retry=False)
    return {"kind": "ok", "result": result}
