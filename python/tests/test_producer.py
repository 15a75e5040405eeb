"""The Python producer against a real hub (npm start), its tasks run by the TypeScript worker."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from drover import (
    AsyncResult,
    Drover,
    Forbidden,
    InvalidRequest,
    NotFound,
    TaskFailed,
    TimeoutError,
    Unauthorized,
    Unavailable,
    chain,
    chord,
    group,
)

from .conftest import TOKENS, Process, free_port


@pytest.fixture
def app(hub_url: str) -> Drover:
    return Drover(hub_url, TOKENS["admin"])


@pytest.fixture
def math(app: Drover, ts_worker: Process) -> Any:
    # The TypeScript worker's test.add sums its arguments, lists flattened.
    @app.task(name="test.add", queue="py")
    def add(*numbers: Any) -> Any:
        raise AssertionError("runs in the TypeScript worker, not here")

    return add


def queue() -> str:
    return f"py-{uuid.uuid4().hex[:10]}"


def test_delay_and_get_across_languages(math: Any) -> None:
    result = math.delay(2, 3)
    assert isinstance(result, AsyncResult)
    assert result.get(timeout=30) == 5
    assert result.state == "SUCCESS"
    assert result.successful() and result.ready() and not result.failed()
    assert result.info()["worker"] == "ts-worker"


def test_send_task_by_name_with_kwargs(app: Drover, ts_worker: Process) -> None:
    result = app.send_task("test.echo", args=["a", 1], queue="py")
    assert result.get(timeout=30)["args"] == ["a", 1]


def test_apply_async_options_reach_the_task(app: Drover) -> None:
    q = queue()
    eta = datetime.now(timezone.utc) + timedelta(hours=1)
    r = app.send_task("report.build", args=[1], kwargs={"k": True}, queue=q, region="cn", priority=7, eta=eta, max_retries=5, time_limit=30, retry_backoff=2)
    record = r.info()
    assert record["state"] == "delayed"
    assert record["queue"] == q and record["region"] == "cn" and record["priority"] == 7 and record["maxRetries"] == 5
    assert record["kwargs"] == {"k": True}
    assert datetime.fromisoformat(record["eta"].replace("Z", "+00:00")) == eta.replace(microsecond=eta.microsecond // 1000 * 1000)
    assert r.state == "PENDING" and not r.ready()

    later = app.send_task("report.build", queue=q, countdown=600, expires=3600)
    assert later.drover_state == "delayed" and later.info()["expiresAt"] is not None

    key = uuid.uuid4().hex
    first = app.send_task("report.build", queue=q, idempotency_key=key)
    assert app.send_task("report.build", queue=q, idempotency_key=key) == first


def test_a_failure_carries_its_type_and_traceback(app: Drover, ts_worker: Process) -> None:
    r = app.send_task("test.refuse", args=["no such page"], queue="py")
    with pytest.raises(TaskFailed) as failed:
        r.get(timeout=30)
    assert failed.value.state == "failed" and failed.value.type == "NonRetryableError"
    assert "no such page" in str(failed.value)
    assert r.state == "FAILURE"
    assert r.traceback is not None and "NonRetryableError: no such page" in r.traceback
    returned = r.get(timeout=5, propagate=False)
    assert isinstance(returned, TaskFailed) and returned.traceback == r.traceback
    assert isinstance(r.result, TaskFailed)


def test_get_times_out_and_revoke_stops_a_waiting_task(app: Drover) -> None:
    r = app.send_task("report.build", queue=queue(), countdown=600)
    with pytest.raises(TimeoutError):
        r.get(timeout=0.5)
    assert r.revoke() == "revoked"
    assert r.state == "REVOKED"
    with pytest.raises(TaskFailed) as failed:
        r.get(timeout=5)
    assert failed.value.state == "revoked"


def test_revoke_leaves_a_running_task_unless_terminate(app: Drover, ts_worker: Process) -> None:
    r = app.send_task("test.stall", queue="py")
    deadline = datetime.now() + timedelta(seconds=30)
    while r.drover_state != "running":
        assert datetime.now() < deadline, "the task never started"
        time.sleep(0.05)
    assert r.revoke() == "running"
    assert r.drover_state == "running"
    assert r.revoke(terminate=True) == "revoked"
    with pytest.raises(TaskFailed) as failed:
        r.get(timeout=30)
    assert failed.value.state == "revoked"


def test_chain_group_and_chord(math: Any) -> None:
    assert chain(math.s(1, 2), math.s(3), math.s(4)).apply_async().get(timeout=60) == 10
    assert (math.s(1, 1) | math.s(1)).delay().get(timeout=60) == 3
    assert group(math.s(i, i) for i in range(5)).apply_async().get(timeout=60) == [0, 2, 4, 6, 8]
    assert chord([math.s(i) for i in range(1, 5)])(math.s(100)).get(timeout=60) == 110
    # .si ignores the previous result: 7 + 8, not (1 + 2) + 7 + 8
    assert chain(math.s(1, 2), math.si(7, 8)).apply_async().get(timeout=60) == 15


def test_send_many_in_batches(app: Drover, math: Any) -> None:
    results = app.send_many(math.s(i, 1) for i in range(1200))
    assert len(results) == 1200 and len({r.id for r in results}) == 1200
    assert [r.get(timeout=60) for r in results[:3]] + [results[-1].get(timeout=60)] == [1, 2, 3, 1200]


def test_errors_are_exceptions_with_the_hubs_codes(hub_url: str, app: Drover) -> None:
    with pytest.raises(Unauthorized) as bad:
        Drover(hub_url, "not-a-token").send_task("x")
    assert bad.value.status == 401 and bad.value.code == "unauthorized"
    with pytest.raises(Forbidden):
        Drover(hub_url, TOKENS["consume"]).send_task("x")
    with pytest.raises(InvalidRequest) as invalid:
        app.send_task("x", priority=12)
    assert "priority" in invalid.value.message
    with pytest.raises(NotFound):
        app.AsyncResult("01J0000000000000000000000Z").state
    with pytest.raises(TypeError):
        app.send_task("x", visibility_timeout=5)
    with pytest.raises(Unavailable) as away:
        Drover(f"http://127.0.0.1:{free_port()}", "t").send_task("x")
    assert "cannot reach the hub" in str(away.value)


def test_asyncio_variants(app: Drover, math: Any) -> None:
    import asyncio

    async def main() -> list[Any]:
        # Several at once on one event loop: enqueue, wait, a workflow, a revoke.
        results = await asyncio.gather(*(math.adelay(i, 10) for i in range(5)))
        values = await asyncio.gather(*(r.aget(timeout=30) for r in results))
        flow = await chain(math.s(1), math.s(2)).aapply_async()
        parked = await app.asend_task("report.build", queue=queue(), countdown=600)
        return [values, await flow.aget(timeout=30), await parked.arevoke(), await parked.astate(), len(await app.asend_many([math.s(1)]))]

    assert asyncio.run(main()) == [[10, 11, 12, 13, 14], 3, "revoked", "REVOKED", 1]
