"""Signatures, chain, group and chord, as Celery writes them, sent as one drover workflow."""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Iterable, Union, cast

from .errors import TaskFailed, TimeoutError
from .options import enqueue_body
from .result import AsyncResult

if TYPE_CHECKING:
    from .app import Drover


class Signature:
    """A task with its arguments and options, not sent yet: `add.s(1, 2)`; `.si()` ignores the
    previous step's result."""

    def __init__(self, app: Drover, name: str, args: Iterable[Any], kwargs: dict[str, Any], options: dict[str, Any], immutable: bool = False) -> None:
        self.app = app
        self.name = name
        self.args = tuple(args)
        self.kwargs = dict(kwargs)
        self.options = options
        self.immutable = immutable

    def set(self, **options: Any) -> Signature:
        self.options.update(options)
        return self

    def body(self) -> dict[str, Any]:
        return enqueue_body(self.name, self.args, self.kwargs, self.options)

    def sig(self) -> dict[str, Any]:
        return {**self.body(), **({"immutable": True} if self.immutable else {})}

    def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        return self.apply_async(args, kwargs)

    def apply_async(self, args: Iterable[Any] | None = None, kwargs: dict[str, Any] | None = None, **options: Any) -> AsyncResult:
        return self.app.send_task(self.name, (*(args or ()), *self.args), {**self.kwargs, **(kwargs or {})}, **{**self.options, **options})

    async def aapply_async(self, args: Iterable[Any] | None = None, kwargs: dict[str, Any] | None = None, **options: Any) -> AsyncResult:
        return await asyncio.to_thread(self.apply_async, args, kwargs, **options)

    def __or__(self, other: Canvas) -> chain:
        return chain(self, other)

    def __repr__(self) -> str:
        return f"{self.name}{'!' if self.immutable else ''}({', '.join([*map(repr, self.args), *(f'{k}={v!r}' for k, v in self.kwargs.items())])})"


class WorkflowResult:
    """A workflow by id: its tasks' results, its state, and get()."""

    def __init__(self, id: str, task_ids: list[str], app: Drover) -> None:  # noqa: A002
        self.id = id
        self.app = app
        self.results = [AsyncResult(t, app) for t in task_ids]

    def info(self) -> dict[str, Any]:
        record: dict[str, Any] = self.app.hub.call("GET", f"/v1/workflows/{self.id}")
        return record

    @property
    def state(self) -> str:
        return str(self.info()["state"])

    def ready(self) -> bool:
        return self.state != "running"

    def get(self, timeout: float | None = None, propagate: bool = True) -> Any:
        """The workflow's result once it succeeded (a chain's last step, a group's list, a chord's body)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.05
        while True:
            record = self.info()
            if record["state"] != "running":
                if record["state"] == "succeeded":
                    return record.get("result")
                failed = next((t for t in record["tasks"] if t["state"] not in ("succeeded", "pending")), None)
                error = TaskFailed(failed["id"] if failed else self.id, record["state"], failed.get("error") if failed else None)
                if propagate:
                    raise error
                return error
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"workflow {self.id} did not end within {timeout} s")
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)

    def revoke(self) -> int:
        answer: dict[str, Any] = self.app.hub.call("POST", f"/v1/workflows/{self.id}/revoke", {})
        return int(answer["revoked"])

    async def aget(self, timeout: float | None = None, propagate: bool = True) -> Any:
        return await asyncio.to_thread(self.get, timeout, propagate)

    async def arevoke(self) -> int:
        return await asyncio.to_thread(self.revoke)


class _Workflow:
    app: Drover

    def plan(self) -> dict[str, Any]:
        raise NotImplementedError

    def apply_async(self) -> WorkflowResult:
        made = self.app.hub.call("POST", "/v1/workflows", self.plan())
        return WorkflowResult(made["id"], made["tasks"], self.app)

    def delay(self) -> WorkflowResult:
        return self.apply_async()

    async def aapply_async(self) -> WorkflowResult:
        return await asyncio.to_thread(self.apply_async)

    def __or__(self, other: Canvas) -> chain:
        return chain(cast("Canvas", self), other)


class group(_Workflow):  # noqa: N801 - Celery's name
    """Tasks run at once; in a chain, the next step gets the list of their results."""

    def __init__(self, *tasks: Signature | Iterable[Signature]) -> None:
        flat: list[Signature] = []
        for t in tasks:
            flat.extend([t] if isinstance(t, Signature) else list(t))
        if not flat:
            raise ValueError("a group needs at least one signature")
        self.tasks = flat
        self.app = flat[0].app

    def plan(self) -> dict[str, Any]:
        return {"group": [t.sig() for t in self.tasks]}


class chain(_Workflow):  # noqa: N801
    """Each step after the one before succeeds, given its result first; a group may be a step.
    A chain ending in a group followed by a signature is a chord, as in Celery."""

    steps: list[Signature | group]

    def __init__(self, *steps: Canvas) -> None:
        flat: list[Signature | group] = []
        for s in steps:
            if isinstance(s, chain):
                flat.extend(s.steps)
            elif isinstance(s, chord):
                raise TypeError("a chord inside a chain is not supported; chain its header group and its body instead")
            else:
                flat.append(s)
        if not flat:
            raise ValueError("a chain needs at least one step")
        self.steps = flat
        self.app = flat[0].app if isinstance(flat[0], Signature) else flat[0].app

    def plan(self) -> dict[str, Any]:
        return {"chain": [s.sig() if isinstance(s, Signature) else {"group": [t.sig() for t in s.tasks]} for s in self.steps]}


class chord(_Workflow):  # noqa: N801
    """`chord(header)(body)`: body runs once, after every header task succeeded, with their results."""

    def __init__(self, header: Iterable[Signature] | group, body: Signature | None = None) -> None:
        self.header = header.tasks if isinstance(header, group) else list(header)
        if not self.header:
            raise ValueError("a chord needs at least one header signature")
        self.body = body
        self.app = self.header[0].app

    def __call__(self, body: Signature) -> WorkflowResult:
        self.body = body
        return self.apply_async()

    def plan(self) -> dict[str, Any]:
        if self.body is None:
            raise ValueError("a chord needs its body: chord(header)(body) or chord(header, body)")
        return {"chord": {"header": [t.sig() for t in self.header], "body": self.body.sig()}}


Canvas = Union[Signature, group, chain, chord]
