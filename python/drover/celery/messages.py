"""Celery's task messages (protocol 2) as drover tasks, and drover's jobs as Celery's messages again.

Pure data, no HTTP: the transport sends what `to_task` makes and hands Celery what `to_message` makes.
A task enqueued by Celery keeps everything drover has no field for (the rest of Celery's headers,
the message properties, the body's embed: callbacks, errbacks, chain, chord) in drover's `headers`
under `celery`, so the consumer rebuilds the very message; a task enqueued in another language has
no such key and its message is made from its name, id, args and kwargs.
"""
from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any

# docs/protocol.md: queue and region names.
QUEUE = re.compile(r"[a-z0-9_-]{1,64}")
REGION = re.compile(r"[a-z0-9-]{1,32}")
# Celery decides retries itself (task.retry, max_retries); drover's bound is the protocol's highest.
MAX_RETRIES = 100
# Kept on the drover task (headers.celery) and rebuilt from it; the others are drover's own fields.
OWN_HEADERS = ("task", "id", "eta", "expires", "retries")
KEPT_PROPERTIES = ("correlation_id", "reply_to", "delivery_mode")


class MessageRefused(ValueError):
    """A message the transport cannot turn into a drover task (and says why)."""


def split_queue(name: str) -> tuple[str, str | None]:
    """`scrape@cn` is queue `scrape` in region `cn`; `scrape` is queue `scrape` in any region."""
    queue, _, region = name.partition("@")
    return queue, (region or None)


def is_drover_queue(name: str) -> bool:
    """False for Celery's own queues that are not tasks (`celery@host.celery.pidbox`, reply queues)."""
    queue, region = split_queue(name)
    return bool(QUEUE.fullmatch(queue)) and (region is None or bool(REGION.fullmatch(region)))


def drover_priority(celery_priority: Any) -> int | None:
    """Celery on Redis runs priority 0 first and 9 last (kombu/transport/redis.py polls its priority
    steps from 0 up); drover runs higher first. So Celery's 0 is drover's 9, and an app keeps its order."""
    if celery_priority is None:
        return None
    p = max(0, min(9, int(celery_priority)))
    return 9 - p


def celery_priority(drover_priority: Any) -> int:
    return 9 - max(0, min(9, int(drover_priority if drover_priority is not None else 5)))


def rfc3339(value: Any) -> str | None:
    """Celery writes eta and expires with datetime.isoformat(); a time without offset is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, timezone.utc).isoformat()
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.isoformat()


def seconds_until(value: Any, now: datetime | None = None) -> float:
    """Seconds from now to an eta Celery wrote (0 for a time already past)."""
    when = rfc3339(value)
    if when is None:
        return 0.0
    now = now or datetime.now(timezone.utc)
    return max(0.0, (datetime.fromisoformat(when) - now).total_seconds())


def body_text(message: dict[str, Any]) -> str:
    """A message's body as text, whatever kombu's body encoding."""
    body: Any = message.get("body") or b""
    if (message.get("properties") or {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    if isinstance(body, bytes):
        body = body.decode(message.get("content-encoding") or "utf-8")
    return str(body)


def decode_body(message: dict[str, Any]) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """The (args, kwargs, embed) of a protocol-2 body, which must be Celery's json serializer's."""
    if message.get("content-type") != "application/json":
        raise MessageRefused(
            f"drover's transport takes Celery's json serializer only (task_serializer='json'); this message is {message.get('content-type')!r}"
        )
    if (message.get("headers") or {}).get("compression"):
        raise MessageRefused("drover's transport takes uncompressed messages (task_compression=None)")
    decoded = json.loads(body_text(message))
    if not isinstance(decoded, list) or len(decoded) != 3:
        raise MessageRefused("drover's transport takes Celery's task protocol 2 (task_protocol=2)")
    args, kwargs, embed = decoded
    return list(args or []), dict(kwargs or {}), dict(embed or {})


def to_task(message: dict[str, Any], queue_name: str) -> dict[str, Any]:
    """The enqueue body (POST /v1/tasks) of a Celery message published to `queue_name`."""
    headers = dict(message.get("headers") or {})
    if "task" not in headers or "id" not in headers:
        raise MessageRefused("drover's transport takes Celery's task protocol 2 (task_protocol=2): the message has no task header")
    args, kwargs, embed = decode_body(message)
    queue, region = split_queue(queue_name)
    properties = message.get("properties") or {}
    body: dict[str, Any] = {
        "task": headers["task"],
        "id": headers["id"],
        "args": args,
        "kwargs": kwargs,
        "queue": queue,
        "maxRetries": MAX_RETRIES,
        "headers": {
            "celery": {
                "headers": {k: v for k, v in headers.items() if k not in OWN_HEADERS},
                "properties": {k: properties[k] for k in KEPT_PROPERTIES if properties.get(k) is not None},
                "embed": embed,
            }
        },
    }
    if region is not None:
        body["region"] = region
    priority = drover_priority(properties.get("priority"))
    if priority is not None:
        body["priority"] = priority
    eta = rfc3339(headers.get("eta"))
    if eta is not None:
        body["eta"] = eta
    expires = rfc3339(headers.get("expires"))
    if expires is not None:
        # The hub takes an expiry after now only; one already past expires as soon as it can.
        left = (datetime.fromisoformat(expires) - datetime.now(timezone.utc)).total_seconds()
        body["expires"] = expires if left > 1 else max(0.001, left) if left > 0 else 0.001
    return body


def to_message(job: dict[str, Any], queue_name: str) -> dict[str, Any]:
    """A claimed job as the raw message kombu hands Celery (kombu/transport/virtual/base.py Message)."""
    kept = (job.get("headers") or {}).get("celery") or {}
    headers: dict[str, Any] = dict(kept.get("headers") or {})
    args, kwargs = job.get("args") or [], job.get("kwargs") or {}
    headers.setdefault("lang", "py")
    headers.setdefault("shadow", None)
    headers.setdefault("group", None)
    headers.setdefault("group_index", None)
    headers.setdefault("timelimit", [None, None])
    headers.setdefault("root_id", job.get("rootId") or job["id"])
    headers.setdefault("parent_id", job.get("parentId"))
    headers.setdefault("argsrepr", repr(tuple(args)))
    headers.setdefault("kwargsrepr", repr(kwargs))
    headers.setdefault("origin", "drover")
    headers.update(
        task=job["task"],
        id=job["id"],
        # The hub held the task until its eta: given to Celery, its worker would hold it again in memory.
        eta=None,
        expires=None,
        # Celery's retries count the attempts before this one; drover's attempts count them all.
        retries=max(0, int(job.get("attempt", 1)) - 1),
        drover_lease=job["leaseId"],
        drover_attempt=job.get("attempt", 1),
    )
    embed = kept.get("embed") or {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    properties: dict[str, Any] = {"correlation_id": job["id"], "reply_to": "", "delivery_mode": 2}
    properties.update(kept.get("properties") or {})
    properties.update(
        priority=celery_priority(job.get("priority")),
        body_encoding=None,
        delivery_tag=str(uuid.uuid4()),
        delivery_info={"exchange": "", "routing_key": queue_name, "priority": celery_priority(job.get("priority"))},
    )
    return {
        "body": json.dumps([args, kwargs, embed]),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": properties,
    }
