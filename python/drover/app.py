"""Drover: the app object, shaped like Celery's: `@app.task`, `.delay()`, `.apply_async()`, `send_task()`."""
from __future__ import annotations

import asyncio
import functools
import os
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Generic, Iterable, TypeVar

from ._http import Hub
from .errors import MaxRetriesExceededError, Retry
from .options import enqueue_body
from .rates import parse_rate
from .request import Request
from .result import AsyncResult

R = TypeVar("R")

# The most entries one POST /v1/tasks/batch takes (docs/protocol.md).
BATCH_LIMIT = 1000


class Task(Generic[R]):
    """A function registered as a task: calling it runs it here; delay() and apply_async() enqueue it.

    In a worker, a task made with `bind=True` gets the task as its first argument: `self.request`
    is the attempt being run, `self.retry(...)` asks for another.
    """

    def __init__(self, app: Drover, fn: Callable[..., R], name: str, options: dict[str, Any], bind: bool, retrying: dict[str, Any] | None = None) -> None:
        self.app = app
        self.run = fn
        self.name = name
        self.options = options
        self.bind = bind
        retrying = retrying or {}
        self.autoretry_for: tuple[type[BaseException], ...] = tuple(retrying.get("autoretry_for") or ())
        self.retry_backoff: float | None = retrying.get("retry_backoff")
        self.retry_backoff_max: float = retrying.get("retry_backoff_max", 600.0)
        self.retry_jitter: bool = retrying.get("retry_jitter", True)
        self.max_retries: int | None = options.get("max_retries")
        self.time_limit: float | None = options.get("time_limit")
        # Starts per worker ("10/s"); a worker's own, not sent with the task (remote control may change it there).
        self.rate_limit: str | None = None
        # Each thread runs its own attempt: the request is per thread, as Celery's request stack is.
        self._local = threading.local()
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self.run(self, *args, **kwargs) if self.bind else self.run(*args, **kwargs)

    @property
    def request(self) -> Request:
        """The attempt this thread runs; outside a worker, a blank one (empty id, no retries)."""
        current: Request | None = getattr(self._local, "request", None)
        return current or Request(id="", task=self.name, args=[], kwargs={}, retries=0, max_retries=self.max_retries or 0, queue="", region=None, hostname="", lease_id="")

    def _running(self, request: Request | None) -> None:
        self._local.request = request

    def is_aborted(self) -> bool:
        """True once the running attempt was revoked, lost its lease or passed its time limit."""
        return self.request.revoked()

    def retry(self, exc: BaseException | None = None, countdown: float | None = None, eta: datetime | None = None, max_retries: int | None = None, throw: bool = True) -> Retry:
        """Ends this attempt and asks for another after `countdown` seconds (or at `eta`; the
        hub's backoff when neither), as Celery's does: `raise self.retry(exc=err, countdown=5)`.

        Once `max_retries` (the call's, else the task's) are spent, it raises `exc` (or
        MaxRetriesExceededError) and the task fails for good. The hub's `maxRetries` of the task
        bounds it too: past it, the task fails whatever this says.
        """
        request = self.request
        limit = self.max_retries if max_retries is None else max_retries
        if limit is not None and request.retries >= limit:
            request.given_up = True
            if exc is not None:
                raise exc
            raise MaxRetriesExceededError(f"Can't retry {self.name}[{request.id}] args:{request.args} kwargs:{request.kwargs}")
        if eta is not None:
            moment = eta if eta.tzinfo else eta.replace(tzinfo=timezone.utc)
            countdown = max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())
        signal = Retry(exc, countdown)
        if throw:
            raise signal
        return signal

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
        retry_backoff: bool | float | None = None,
        time_limit: float | None = None,
        autoretry_for: Iterable[type[BaseException]] = (),
        retry_backoff_max: float = 600.0,
        retry_jitter: bool = True,
        rate_limit: str | None = None,
        rate_key: str | Callable[..., str | None] | None = None,
    ) -> Any:
        """Registers a function as a task, with or without arguments: `@app.task` or `@app.task(queue=...)`.

        The enqueue options (queue, region, priority, max_retries, retry_backoff, time_limit)
        become the defaults of each enqueue (apply_async's options win). The name defaults to
        `module.function`, as Celery's does. In a worker: `bind=True` passes the task as `self`;
        `autoretry_for` retries only those exceptions (others fail the task for good), after
        `retry_backoff` x 2^retries seconds (True: 1), at most `retry_backoff_max`, with full
        jitter unless `retry_jitter=False`; `time_limit` is the most one attempt may run;
        `rate_limit` ("10/s", "100/m", "1000/h") is the most of it each worker starts, as Celery's.
        `rate_key` is the key the queue's per-key limits count it under, across every worker: a
        string, or a callable of the task's args and kwargs (`rate_key=lambda url, **kw:
        urlparse(url).netloc`); apply_async(rate_key=...) wins over it.
        """
        if rate_key is not None and not isinstance(rate_key, str) and not callable(rate_key):
            raise TypeError(f"rate_key must be a string or a callable of the task's args and kwargs; got {rate_key!r}")
        if rate_limit is not None and parse_rate(rate_limit) is None:
            raise ValueError(f"rate_limit {rate_limit!r} is not N/s, N/m or N/h")
        backoff = 1.0 if retry_backoff is True else (float(retry_backoff) if retry_backoff else None)
        options = {
            k: v
            for k, v in dict(queue=queue, region=region, priority=priority, max_retries=max_retries, retry_backoff=backoff, time_limit=time_limit, rate_key=rate_key).items()
            if v is not None
        }
        retrying = dict(autoretry_for=tuple(autoretry_for), retry_backoff=backoff, retry_backoff_max=retry_backoff_max, retry_jitter=retry_jitter)

        def register(f: Callable[..., R]) -> Task[R]:
            task = Task(self, f, name or f"{f.__module__}.{f.__qualname__}", options, bind, retrying)
            task.rate_limit = rate_limit
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
