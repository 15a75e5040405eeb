"""Errors: the hub's refusals as exceptions named after its error codes, and a task that ended badly."""
from __future__ import annotations

from typing import Any


class DroverError(Exception):
    """An error answer from the hub: its HTTP status, the protocol's error code, the message, details."""

    code = "unavailable"

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class InvalidRequest(DroverError):
    code = "invalid_request"


class Unauthorized(DroverError):
    code = "unauthorized"


class Forbidden(DroverError):
    code = "forbidden"


class NotFound(DroverError):
    code = "not_found"


class LeaseLost(DroverError):
    code = "lease_lost"


class Conflict(DroverError):
    code = "conflict"


class PayloadTooLarge(DroverError):
    code = "payload_too_large"


class RateLimited(DroverError):
    """Two uses under one name. The hub's 429 answer (`rate_limited`), raised by a call to it; and
    what a task raises when the site it called said "too many requests":

        if resp.status == 429:
            raise RateLimited(retry_after=float(resp.headers.get("Retry-After", 1)))

    Raised by a task, the attempt does not count against its retries: it runs again after
    `retry_after` seconds (the hub's 1 s when None), and the hub pauses the task's rate key until
    then, in every region, and lowers that key's rate. A message may come first:
    `RateLimited("429 from api.example.com", retry_after=2)`.
    """

    code = "rate_limited"

    def __init__(self, *args: Any, retry_after: float | None = None) -> None:
        if len(args) >= 3:  # the hub's answer: status, code, message[, details]
            super().__init__(*args)
            self.retry_after: float | None = None
            self.raised_by_task = False
            return
        if len(args) > 1:
            raise TypeError("RateLimited takes at most a message; retry_after is keyword-only: RateLimited(retry_after=2)")
        if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, (int, float)) or not 0 <= retry_after < float("inf")):
            raise ValueError(f"retry_after must be seconds, 0 or more; got {retry_after!r}")
        message = str(args[0]) if args else "rate limited" + (f"; retry after {retry_after:g}s" if retry_after is not None else "")
        Exception.__init__(self, message)
        self.status = 429
        self.message = message
        self.details = None
        self.retry_after = retry_after
        self.raised_by_task = True


class Internal(DroverError):
    code = "internal"


class Unavailable(DroverError):
    """The hub answered 503, or could not be reached at all (status 0)."""

    code = "unavailable"


# Typed as DroverError classes: RateLimited's own __init__ (its task form) would make the tuple's join plain `type`.
_CLASSES: tuple[type[DroverError], ...] = (
    InvalidRequest, Unauthorized, Forbidden, NotFound, LeaseLost, Conflict, PayloadTooLarge, RateLimited, Internal, Unavailable,
)
_BY_CODE: dict[str, type[DroverError]] = {cls.code: cls for cls in _CLASSES}


def error_for(status: int, code: str, message: str, details: Any = None) -> DroverError:
    """The exception class of an error code (DroverError itself for a code this version does not know)."""
    return _BY_CODE.get(code, DroverError)(status, code, message, details)


class TaskFailed(Exception):
    """`AsyncResult.get()` of a task that ended other than succeeded (failed, revoked, expired)."""

    def __init__(self, task_id: str, state: str, error: dict[str, Any] | None) -> None:
        detail = f": {error.get('type')}: {error.get('message')}" if error else ""
        super().__init__(f"task {task_id} ended {state}{detail}")
        self.task_id = task_id
        self.state = state
        self.error = error
        self.type: str | None = error.get("type") if error else None
        self.traceback: str | None = error.get("stack") if error else None


class TimeoutError(Exception):  # noqa: A001 - Celery's name, celery.exceptions.TimeoutError
    """`AsyncResult.get(timeout=...)` ran out of time before the task ended."""


# Raised inside a task, read by the worker (Celery's names, from celery.exceptions).

class Retry(Exception):
    """`raise self.retry(...)`: this attempt fails and the task runs again after `countdown`
    seconds (the hub's backoff when None). The worker reports `exc` as the attempt's error."""

    def __init__(self, exc: BaseException | None = None, countdown: float | None = None) -> None:
        super().__init__(f"Retry in {countdown:g}s" if countdown is not None else "Retry")
        self.exc = exc
        self.countdown = countdown


class MaxRetriesExceededError(Exception):
    """`self.retry()` with no exception to raise once the task's retries are spent."""


class NonRetryableError(Exception):
    """Fails the task at once, without retries (the TypeScript SDK's error of the same name)."""

    retryable = False


class NotRegistered(Exception):
    """A job for a task this worker does not know."""
