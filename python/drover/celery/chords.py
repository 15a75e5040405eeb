"""Chords counted by the hub: Celery's chord becomes one drover chord workflow, so its body runs
exactly once when every member has succeeded, whatever happens to the workers meanwhile.

Celery tells the result backend of a chord (apply_chord) and then publishes the header's members.
The backend notes the chord here; the transport keeps each member's message as it is published
(already routed, with its id, arguments and options) instead of sending it, and once it has them
all, sends the whole chord to the hub in one POST /v1/workflows, under Celery's ids. The hub runs
the members, counts them, and makes the body with their results first in its arguments, as
Celery's chord does. No chord_unlock task polls for the header, and no member's result counts
twice when a killed worker's member runs again.

A chord whose body is itself a canvas (a chain, a group, another chord), or which has more
members than a workflow may, is left to Celery's own way (its chord_unlock task).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from . import messages

# docs/protocol.md: a workflow has at most 1,000 tasks (the body is one of them).
MAX_MEMBERS = 999


@dataclass
class Pending:
    ids: list[str]
    body: dict[str, Any]
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)


_pending: dict[str, Pending] = {}
_lock = threading.Lock()


def handled_by_hub(body: Any, members: int) -> bool:
    """True for a chord the hub can count: a plain task signature as body, at most MAX_MEMBERS members."""
    from celery.canvas import Signature

    return type(body) is Signature and 0 < members <= MAX_MEMBERS


def expect(app: Any, group_id: str, member_ids: list[str], body: Any) -> None:
    """Notes a chord whose members this process is about to publish (Celery's chord.run)."""
    with _lock:
        _pending[group_id] = Pending(list(member_ids), body_task(app, body))


def keep(headers: dict[str, Any], task: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """For a message about to be sent: (False, None) if it is no member of a noted chord; else it is
    kept, with the workflow request to send once it was the last member: (True, request or None)."""
    group_id = headers.get("group")
    if not group_id:
        return False, None
    with _lock:
        pending = _pending.get(group_id)
        if pending is None or task["id"] not in pending.ids:
            return False, None
        pending.kept[task["id"]] = task
        if len(pending.kept) < len(pending.ids):
            return True, None
        del _pending[group_id]
    header = [pending.kept[i] for i in pending.ids]
    return True, {"chord": {"header": header, "body": pending.body}}


def body_task(app: Any, body: Any) -> dict[str, Any]:
    """The chord's body as a workflow member: routed as Celery would route it when it is sent, its
    links kept for the worker that runs it. The hub puts the members' results first in its args."""
    options = dict(body.options)
    routed = app.amqp.router.route(dict(options), body.task, tuple(body.args), dict(body.kwargs))
    queue = routed.get("queue")
    name = getattr(queue, "name", None) or options.get("queue") or app.conf.task_default_queue
    queue_name, region = messages.split_queue(str(name))
    task: dict[str, Any] = {
        "id": options["task_id"],
        "task": body.task,
        "args": list(body.args),
        "kwargs": dict(body.kwargs),
        "queue": queue_name,
        "maxRetries": messages.MAX_RETRIES,
        "immutable": bool(body.immutable),
        "headers": {
            "celery": {
                "headers": {"root_id": options.get("root_id"), "parent_id": options.get("parent_id"), "group": options.get("group_id")},
                "embed": {"callbacks": options.get("link"), "errbacks": options.get("link_error"), "chain": None, "chord": None},
            }
        },
    }
    if region is not None:
        task["region"] = region
    priority = messages.drover_priority(routed.get("priority", options.get("priority")))
    if priority is not None:
        task["priority"] = priority
    return task
