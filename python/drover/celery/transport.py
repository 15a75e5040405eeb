"""kombu's transport over drover: a publish is an enqueue, a get is a claim, acks ride leases.

Modelled on kombu's virtual transports (kombu/transport/virtual/base.py, redis.py, SQS.py). What
differs from them: a delivered message is a drover lease that this worker heartbeats until the
task's outcome ends it (leases.py), so there is no visibility timeout and an eta, however far, is
held by the hub and delivered once. Fanout (Celery's pidbox) carries one command, `revoke`, turned
into the hub's own revoke of each task (see _put_fanout); the other broadcasts go nowhere.
"""
from __future__ import annotations

import json
import logging
import socket
from queue import Empty
from typing import Any

from kombu.transport import virtual

from .._http import Hub
from ..errors import Conflict, NotFound, Unavailable
from . import chords, messages
from .connect import hub_for
from .leases import LEASES, end
from .outcome import RETRIES, RUNNING

log = logging.getLogger("drover.celery")

# The longest one claim waits for work (docs/protocol.md: waitSeconds at most 30).
CLAIM_WAIT_MAX = 30.0
DEFAULT_LEASE_SECONDS = 60.0
WORKER = {"name": f"celery@{socket.gethostname()}"}  # Celery's hostname, once worker_init says it


class Channel(virtual.Channel):  # type: ignore[misc]
    supports_fanout = True
    # Messages are handed over as JSON text; no base64 on the way.
    body_encoding = None

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self.client = connection.client
        options = self.client.transport_options or {}
        self.lease_seconds = float(options.get("lease_seconds", DEFAULT_LEASE_SECONDS))
        self._next_queue = 0
        self._by_tag: dict[str, str | None] = {}

    @property
    def hub(self) -> Hub:
        return hub_for(self.client)

    # Publishing.

    def prepare_message(self, body: Any, priority: Any = None, content_type: Any = None, content_encoding: Any = None, headers: Any = None, properties: Any = None) -> dict[str, Any]:
        # kombu writes 0 for "no priority" (virtual/base.py prepare_message); kept None here, so a
        # task sent without one takes drover's default instead of the highest.
        message: dict[str, Any] = super().prepare_message(body, priority, content_type, content_encoding, headers, properties)
        message["properties"]["priority"] = priority
        return message

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        if not messages.is_drover_queue(queue):
            log.debug("dropped a message to %s: not a drover queue", queue)
            return
        headers = message.get("headers") or {}
        task_id = headers.get("id")
        if task_id in RUNNING:
            if headers.get("retries", 0) > 0:
                # task.retry() sends the same id again with retries + 1 and an eta. That message is
                # not sent: the attempt running here fails with retry (task_postrun), and the hub
                # runs the same task again when the eta comes, as its next attempt.
                RETRIES[task_id] = messages.seconds_until(headers.get("eta"))
                return
            # Task.replace() sends its replacement under the running task's id (celery/app/task.py
            # replace: sig.freeze(self.request.id)); one drover task per id cannot become another.
            raise messages.MessageRefused(f"task {task_id} sent a new message under its own id (Task.replace): drover's transport keeps one task per id and cannot replace it")
        body = messages.to_task(message, queue)
        kept, workflow = chords.keep(headers, body)
        if kept:
            # A member of a chord the hub counts: sent with the others, as one workflow.
            if workflow is not None:
                self.hub.call("POST", "/v1/workflows", workflow)
            return
        answer = self.hub.call("POST", "/v1/tasks", body)
        if answer.get("duplicate"):
            log.error("task %s was sent again under an id the hub already has (%s): nothing new is queued (a Task.replace by a chain ends so)", task_id, answer.get("state"))

    def _put_fanout(self, exchange: str, message: dict[str, Any], routing_key: str, **kwargs: Any) -> None:
        # Revoke goes to the hub, not to the workers: the hub keeps it (a queued task never runs,
        # whichever worker would claim it, however late, restarts included) and a running task's
        # next heartbeat learns it. Celery's other broadcasts (ping, inspect, rate_limit...) reach
        # no worker over this transport.
        try:
            command = json.loads(messages.body_text(message))
        except (ValueError, TypeError):
            return
        if not isinstance(command, dict) or command.get("method") != "revoke":
            log.debug("broadcast %r not carried by drover's transport", command.get("method") if isinstance(command, dict) else None)
            return
        arguments = command.get("arguments") or {}
        ids = arguments.get("task_id") or []
        for task_id in [ids] if isinstance(ids, str) else ids:
            revoke(self.hub, str(task_id), bool(arguments.get("terminate")))

    def _queue_bind(self, *args: Any) -> None:
        pass

    def get_table(self, exchange: str) -> list[Any]:
        return list(self.state.exchanges.get(exchange, {}).get("table", []))

    def _lookup(self, exchange: str, routing_key: str, default: Any = None) -> list[str]:
        # An exchange this process never saw bound (a producer that declared nothing) routes by the
        # routing key, Celery's default (queue, exchange and routing key share the queue's name).
        found: list[str] = list(super()._lookup(exchange, routing_key, default) or [])
        if not found and routing_key and self.typeof(exchange).type == "direct":
            return [routing_key]
        return found

    # Consuming.

    def _get_many(self, queues: list[str], timeout: float | None = None) -> None:
        """One claim (kombu's drain_events): from the next of the consumed queues, at most what the
        QoS window has room for, waiting for work up to `timeout`; each job is delivered to Celery."""
        ours = [q for q in queues if messages.is_drover_queue(q)]
        if not ours:
            raise Empty()
        name = ours[self._next_queue % len(ours)]
        self._next_queue += 1
        room = self.qos.can_consume_max_estimate()
        count = 100 if room is None else min(100, room)
        if count <= 0:
            raise Empty()
        # Several queues share the wait, so none waits long behind another (the hub claims one queue a call).
        wait = min(CLAIM_WAIT_MAX, (timeout if timeout is not None else 1.0) / len(ours))
        jobs = self._claim(name, count, wait)
        if not jobs:
            raise Empty()
        for job in jobs:
            self.connection._deliver(messages.to_message(job, name), name)

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        if not messages.is_drover_queue(queue):
            raise Empty()
        jobs = self._claim(queue, 1, 0)
        if not jobs:
            raise Empty()
        return messages.to_message(jobs[0], queue)

    def _claim(self, name: str, count: int, wait: float) -> list[dict[str, Any]]:
        queue, region = messages.split_queue(name)
        body: dict[str, Any] = {"worker": WORKER["name"], "max": count, "leaseSeconds": self.lease_seconds}
        if region is not None:
            body["region"] = region
        if wait > 0:
            body["waitSeconds"] = round(max(0.001, wait), 3)
        jobs: list[dict[str, Any]] = self.hub.call("POST", f"/v1/queues/{queue}/claim", body)["jobs"]
        for job in jobs:
            LEASES.hold(self.hub, job["leaseId"], job["id"], self.lease_seconds)
        return jobs

    def basic_consume(self, queue: str, no_ack: bool, callback: Any, consumer_tag: str, **kwargs: Any) -> Any:
        def remember(message: Any) -> Any:
            self._by_tag[message.delivery_tag] = (message.headers or {}).get("drover_lease")
            return callback(message)

        return super().basic_consume(queue, no_ack, remember, consumer_tag, **kwargs)

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        # Celery is done with the message, not necessarily with the task (acks_late=False acks at
        # start): the lease stays held until the outcome ends it.
        lease = self._by_tag.pop(delivery_tag, None)
        if lease:
            LEASES.settle(lease)
        super().basic_ack(delivery_tag, multiple)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        lease = self._by_tag.pop(delivery_tag, None)
        held = LEASES.get(lease) if lease else None
        if held is not None:
            if requeue:
                end(held.hub, held.lease_id, "release")
            else:
                error = {"type": "Rejected", "message": "the worker rejected the message (an unknown task, or one it could not decode)"}
                end(held.hub, held.lease_id, "fail", {"error": error, "retry": False})
        # kombu would put a requeued message back itself; the hub has it already.
        super().basic_reject(delivery_tag, requeue=False)

    def _restore(self, message: Any) -> None:
        # kombu restores the messages Celery never acked when the channel closes (a warm shutdown:
        # prefetched, never started). Their leases go back to the hub: the attempt does not count
        # and the task keeps its place, as the release route says.
        lease = (message.headers or {}).get("drover_lease")
        held = LEASES.get(lease) if lease else None
        if held is not None:
            end(held.hub, held.lease_id, "release")

    def _size(self, queue: str) -> int:
        return 0

    def _purge(self, queue: str) -> int:
        if not messages.is_drover_queue(queue):
            return 0
        name, _ = messages.split_queue(queue)
        return int(self.hub.call("POST", f"/v1/queues/{name}/purge", {}).get("purged", 0))

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        pass

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return True

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        pass


def revoke(hub: Hub, task_id: str, terminate: bool) -> None:
    """Celery's revoke of one task: one not started never runs; a running one is stopped only with
    terminate=True (without it Celery lets it finish, and so does this)."""
    try:
        if not terminate and hub.call("GET", f"/v1/tasks/{task_id}")["state"] == "running":
            return
        hub.call("POST", f"/v1/tasks/{task_id}/revoke", {})
    except (NotFound, Conflict):
        pass  # unknown to the hub, or already ended: nothing to revoke


class Transport(virtual.Transport):  # type: ignore[misc]
    Channel = Channel
    driver_type = "drover"
    driver_name = "drover"
    default_port = 8787
    # Between two claims that found nothing (each claim itself waits for work on the hub).
    polling_interval = 0.05
    implements = virtual.Transport.implements.extend(asynchronous=False, exchange_type=frozenset(["direct", "topic", "fanout"]))
    # The hub out of reach: Celery reconnects and tries again, as it does when Redis is away.
    connection_errors = virtual.Transport.connection_errors + (Unavailable,)
    channel_errors = virtual.Transport.channel_errors


class SecureTransport(Transport):
    """droverss://: the hub over https."""

    default_port = 443
