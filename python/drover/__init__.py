"""drover for Python: Celery's API over drover's HTTP protocol, standard library only; the worker is
`python -m drover worker -A module`.

    from drover import Drover
    app = Drover("http://127.0.0.1:8787", token="...")

    @app.task(queue="math")
    def add(x, y):
        return x + y

    add.delay(2, 3).get(timeout=10)
"""
from .app import Drover, Task
from .canvas import Signature, WorkflowResult, chain, chord, group
from .errors import (
    Conflict,
    DroverError,
    Forbidden,
    Internal,
    InvalidRequest,
    LeaseLost,
    MaxRetriesExceededError,
    NonRetryableError,
    NotFound,
    NotRegistered,
    PayloadTooLarge,
    RateLimited,
    Retry,
    TaskFailed,
    TimeoutError,
    Unauthorized,
    Unavailable,
)
from .request import Request
from .result import AsyncResult

__all__ = [
    "AsyncResult", "Conflict", "Drover", "DroverError", "Forbidden", "Internal", "InvalidRequest", "LeaseLost",
    "MaxRetriesExceededError", "NonRetryableError", "NotFound", "NotRegistered", "PayloadTooLarge", "RateLimited",
    "Request", "Retry", "Signature", "Task", "TaskFailed", "TimeoutError", "Unauthorized", "Unavailable",
    "WorkflowResult", "chain", "chord", "group",
]
__version__ = "0.1.0"
