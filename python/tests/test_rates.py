"""Rate limits of the Python worker: `@app.task(rate_limit=...)` and remote control's `rate-limit`,
measured from the tasks' own start times."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from drover import Drover, InvalidRequest

from drover.rates import TaskRates, parse_rate

from .conftest import wait_for
from .test_worker import StartWorker, app, queue, start_worker  # noqa: F401 - fixtures


def starts(app: Drover, q: str, count: int, first: int = 0) -> list[float]:
    """Enqueues `count` py.rated tasks and answers their start times, in order, once all ran."""
    folder = tempfile.mkdtemp(prefix="drover-rated-")
    for n in range(first, first + count):
        app.send_task("py.rated", [folder, n], queue=q)
    wait_for(lambda: len(list(Path(folder).iterdir())) == count, 60, f"{count} rated tasks ran")
    return sorted(float(p.read_text()) for p in Path(folder).iterdir())


def most_in_a_second(times: list[float]) -> int:
    return max(sum(1 for t in times if s <= t < s + 1.0) for s in times)


def test_a_task_rate_limit_holds_its_starts_to_that_rate(app: Drover, start_worker: StartWorker) -> None:
    q = queue()
    start_worker(q, "-c", "8")
    times = starts(app, q, 20)
    # A bucket of 5 starts refilled at 5 a second: 5 at once, then one every 0.2 s. Without the
    # limit, 8 slots start all 20 within a fraction of a second.
    assert most_in_a_second(times) <= 5 + 5 + 1, times
    after_burst = times[-1] - times[5]
    assert after_burst >= 14 / 5 * 0.85, times  # the 15 after the burst at 5/s: 2.8 s
    assert after_burst <= 14 / 5 * 2.5, times  # and not held back much longer


def test_remote_control_sets_and_lifts_a_rate_limit(app: Drover, start_worker: StartWorker) -> None:
    q = queue()
    name = f"py-rate-{q}"
    start_worker(q, "-c", "8", name=name)

    def control(**args: Any) -> dict[str, Any]:
        answer: dict[str, Any] = app.hub.call("POST", "/v1/control", {"workers": [name], "command": "rate-limit", "args": args, "waitSeconds": 10})
        assert answer["replies"], answer
        return answer["replies"][0]  # type: ignore[no-any-return]

    wait_for(lambda: any(w["name"] == name and w["concurrency"] for w in app.hub.call("GET", "/v1/workers")["workers"]), 30, "the worker is listed")
    assert control(task="py.rated", rate=None) == {"worker": name, "ok": True, "reply": {"task": "py.rated", "rate": None}}
    lifted = starts(app, q, 20)
    assert lifted[-1] - lifted[0] < 14 / 5 * 0.85, lifted  # faster than its own 5/s would allow
    assert control(task="py.rated", rate="2/s")["reply"] == {"task": "py.rated", "rate": "2/s"}
    slowed = starts(app, q, 6, first=100)
    assert slowed[-1] - slowed[2] >= 3 / 2 * 0.85, slowed  # 2 at once, then one every 0.5 s
    assert control(task="py.nothing", rate="1/s")["error"]["type"] == "NotRegistered"
    with pytest.raises(InvalidRequest, match="rate"):  # the hub checks a rate before it sends it
        control(task="py.rated", rate="fast")


def test_a_bad_rate_limit_is_refused_where_the_task_is_made(app: Drover) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        app.task(name="py.bad", rate_limit="10 per second")(lambda: None)


def test_a_bucket_allows_bursts_of_n_then_n_per_period() -> None:
    now = [0.0]
    rates = TaskRates(lambda: now[0])
    assert parse_rate("100/m") == (100, 60.0) and parse_rate("0/s") is None and parse_rate("5/d") is None
    assert rates.set("t", "2/s")
    assert [rates.take("t") for _ in range(3)] == [True, True, False]
    assert rates.take("other")  # no limit
    assert rates.next_opening() == pytest.approx(0.5)
    now[0] = 0.5
    assert rates.take("t") and not rates.take("t")
    assert rates.set("t", None) and rates.take("t") and rates.limits == {}
