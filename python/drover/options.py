"""Celery's enqueue options (countdown, eta, expires, max_retries, ...) as drover's enqueue body."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

# Celery's option name -> the enqueue body's field (docs/protocol.md, "The enqueue body").
FIELDS = {
    "task_id": "id",
    "headers": "headers",
    "queue": "queue",
    "region": "region",
    "priority": "priority",
    "countdown": "delay",
    "eta": "eta",
    "expires": "expires",
    "max_retries": "maxRetries",
    "retry_backoff": "retryDelay",
    "time_limit": "timeout",
    "idempotency_key": "idempotencyKey",
    "ordering_key": "orderingKey",
    "group_key": "groupKey",
    "group_limit": "groupLimit",
    "rate_key": "rateKey",
}


def _time(value: Any) -> Any:
    """A datetime as RFC 3339 (a naive one is taken as UTC, as Celery takes it); anything else as given."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    return value


def enqueue_body(name: str, args: Any, kwargs: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The body of POST /v1/tasks. Unknown options raise TypeError; the hub checks values and ranges.
    A callable `rate_key` is called with the task's args and kwargs (a chain step's: those it was
    given, not the result it will be passed); None from it sends no key."""
    unknown = sorted(set(options) - set(FIELDS))
    if unknown:
        raise TypeError(f"unknown option(s) for drover: {', '.join(unknown)} (known: {', '.join(sorted(FIELDS))})")
    if options.get("countdown") is not None and options.get("eta") is not None:
        raise TypeError("give countdown or eta, not both")
    body: dict[str, Any] = {"task": name, "args": list(args or ()), "kwargs": dict(kwargs or {})}
    if callable(options.get("rate_key")):
        options = {**options, "rate_key": options["rate_key"](*body["args"], **body["kwargs"])}
    for option, value in options.items():
        if value is None and option != "region":
            continue  # left to the task's defaults and the hub's routes
        body[FIELDS[option]] = _time(value) if option in ("eta", "expires") else value
    return body
