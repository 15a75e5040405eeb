"""The attempt a worker is running, as a bound task sees it: `self.request`, Celery's names."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """One claimed attempt of a task. `retries` counts the attempts before this one, as Celery's does.

    `eta` is when the task was due as enqueued (RFC 3339, None for at once); `workflow_id` names the
    chain, group or chord it is a step of, and `headers` is what the producer gave as headers.
    """

    id: str
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    retries: int
    max_retries: int
    queue: str
    region: str | None
    hostname: str
    lease_id: str
    parent_id: str | None = None
    root_id: str | None = None
    eta: str | None = None
    workflow_id: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    # Set when the task is revoked, its lease lost or its time limit passed: its outcome will
    # not count. A thread cannot be stopped from outside, so a long task should look at it.
    aborted: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    # Set by self.retry() when the retries are spent: the error it raises fails the task for good.
    given_up: bool = field(default=False, repr=False, compare=False)

    @property
    def attempt(self) -> int:
        """This attempt, from 1."""
        return self.retries + 1

    @property
    def workflow(self) -> str | None:
        """The workflow (chain, group or chord) this task is a step of, None outside one."""
        return self.workflow_id

    def revoked(self) -> bool:
        """True once the task was revoked, its lease lost or its time limit passed: stop, it will not count."""
        return self.aborted.is_set()

    is_aborted = revoked

    @classmethod
    def of_job(cls, job: dict[str, Any], hostname: str) -> Request:
        return cls(
            id=job["id"],
            task=job["task"],
            args=list(job.get("args") or []),
            kwargs=dict(job.get("kwargs") or {}),
            retries=int(job["attempt"]) - 1,
            max_retries=int(job["maxRetries"]),
            queue=job["queue"],
            region=job.get("region"),
            hostname=hostname,
            lease_id=job["leaseId"],
            parent_id=job.get("parentId"),
            root_id=job.get("rootId"),
            eta=job.get("eta"),
            workflow_id=job.get("workflowId"),
            headers=dict(job.get("headers") or {}),
        )

    def plain(self) -> dict[str, Any]:
        """Its fields as plain data, to cross to a child process."""
        return {k: getattr(self, k) for k in ("id", "task", "args", "kwargs", "retries", "max_retries", "queue", "region", "hostname", "lease_id", "parent_id", "root_id", "eta", "workflow_id", "headers")}
