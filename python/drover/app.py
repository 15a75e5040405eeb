"""Drover: the app object, shaped like Celery's: `@app.task`, `.delay()`, `.apply_async()`, `send_task()`."""
from __future__ import annotations

import asyncio
import functools
import os
from typing import Any, Callable, Generic, Iterable, TypeVar

from ._http import Hub
from .options import enqueue_body
from .result import AsyncResult

R = TypeVar("R")

# The most entries one POST /v1/tasks/batch takes (docs/protocol.md).
BATCH_LIMIT = 1000


class Task(Generic[R]):
    """A function registered as a task: calling it runs it here; delay() and apply_async() enqueue it."""

    def __init__(self, app: Drover, fn: Callable[..., R], name: str, options: dict[str, Any], bind: bool) -> None:
        self.app = app
        self.run = fn
        self.name = name
        self.options = options
        self.bind = bind
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self.run(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<@task: {self.name}>"

    def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        return self.apply_async(args, kwargs)

    def apply_async(self, args: Iterable[Any] | None = None, kwargs: dict[str, Any] | None = None, **options: Any) -> AsyncResult:
        return self.app.send_task(self.name, args, kwargs, **{**self.options, **options})

    async def adelay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        return await self.aapply_async(args, kwargs)

    async def aapply_async(self, args: Iterable[Any] | None = None, kwargs: dict[str, Any] | None = None, **options: Any) -> AsyncResult:
        return await asyncio.to_thread(self.apply_async, args, kwargs, **options)

    def s(self, *args: Any, **kwargs: Any) -> Any:
        from .canvas import Signature

        return Signature(self.app, self.name, args, kwargs, dict(self.options))

    def si(self, *args: Any, **kwargs: Any) -> Any:
        from .canvas import Signature

        return Signature(self.app, self.name, args, kwargs, dict(self.options), immutable=True)

    signature = s


class Drover:
    """One hub and a token: where tasks are sent and results read.

    >>> app = Drover("http://127.0.0.1:8787", token=os.environ["DROVER_TOKEN"])
    >>> @app.task(queue="math")
    ... def add(x, y):
    ...     return x + y
    >>> add.delay(2, 3).get(timeout=10)
    5
    """

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 75.0) -> None:
        url = url or os.environ.get("DROVER_URL")
        token = token or os.environ.get("DROVER_TOKEN")
        if not url:
            raise ValueError("the hub's URL is needed: Drover(url, token) or DROVER_URL")
        if not token:
            raise ValueError("a token is needed: Drover(url, token) or DROVER_TOKEN")
        self.hub = Hub(url, token, timeout)
        self.tasks: dict[str, Task[Any]] = {}

    def task(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        bind: bool = False,
        queue: str | None = None,
        region: str | None = None,
        priority: int | None = None,
        max_retries: int | None = None,
        retry_backoff: float | None = None,
        time_limit: float | None = None,
    ) -> Any:
        """Registers a function as a task, with or without arguments: `@app.task` or `@app.task(queue=...)`.

        The options become the defaults of each enqueue (apply_async's options win). The name
        defaults to `module.function`, as Celery's does.
        """
        options = {
            k: v
            for k, v in dict(queue=queue, region=region, priority=priority, max_retries=max_retries, retry_backoff=retry_backoff, time_limit=time_limit).items()
            if v is not None
        }

        def register(f: Callable[..., R]) -> Task[R]:
            task = Task(self, f, name or f"{f.__module__}.{f.__qualname__}", options, bind)
            self.tasks[task.name] = task
            return task

        return register(fn) if fn is not None else register

    def send_task(self, name: str, args: Iterable[Any] | None = None, kwargs: dict[str, Any] | None = None, **options: Any) -> AsyncResult:
        """Enqueues a task by name, for a task this program does not define (another language's, say)."""
        made = self.hub.call("POST", "/v1/tasks", enqueue_body(name, args, kwargs, options))
        return AsyncResult(made["id"], self)

    def send_many(self, calls: Iterable[Any]) -> list[AsyncResult]:
        """Enqueues many in as few calls as the batch limit allows: signatures (`add.s(1, 2)`), each
        all or nothing per batch of 1,000. Answers their results in order."""
        bodies = [c.body() for c in calls]
        results: list[AsyncResult] = []
        for start in range(0, len(bodies), BATCH_LIMIT):
            made = self.hub.call("POST", "/v1/tasks/batch", {"tasks": bodies[start : start + BATCH_LIMIT]})
            results.extend(AsyncResult(t["id"], self) for t in made["tasks"])
        return results

    async def asend_task(self, name: str, args: Iterable[Any] | None = None, kwargs: dict[str, Any] | None = None, **options: Any) -> AsyncResult:
        return await asyncio.to_thread(self.send_task, name, args, kwargs, **options)

    async def asend_many(self, calls: Iterable[Any]) -> list[AsyncResult]:
        return await asyncio.to_thread(self.send_many, list(calls))

    def AsyncResult(self, id: str) -> AsyncResult:  # noqa: N802,A002 - Celery's names
        return AsyncResult(id, self)
