"""The Python worker (`python -m drover worker`) as a real process against a real hub (npm start)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from drover import Drover, TaskFailed, chain, chord

from .conftest import PYTHON, ROOT, TOKENS, Process, node, wait_for



def queue() -> str:
    return f"pyw-{uuid.uuid4().hex[:10]}"


StartWorker = Callable[..., Process]


@pytest.fixture
def app(hub_url: str) -> Drover:
    return Drover(hub_url, TOKENS["admin"])


@pytest.fixture
def start_worker(hub_url: str) -> Iterator[StartWorker]:
    """Starts `python -m drover worker` and waits until it works; the test's workers stop at its end."""
    started: list[Process] = []

    def start(q: str, *flags: str, module: str = "tests.pytasks", token: str = TOKENS["consume"], name: str | None = None, ready: bool = True) -> Process:
        log = Path(tempfile.mkdtemp(prefix="drover-pyw-")) / "worker.log"
        args = [PYTHON, "-m", "drover", "worker", "-A", module, "-Q", q, "--url", hub_url, "--token", token, "--wait", "1", "-n", name or f"py-{uuid.uuid4().hex[:6]}", *flags]
        worker = Process(args, {"PYTHONPATH": str(ROOT / "python")}, log)
        started.append(worker)
        if ready:
            wait_for(lambda: " working " in worker.output() or worker.proc.poll() is not None, 60, "the worker starts")
            assert worker.proc.poll() is None, worker.output()
        return worker

    yield start
    for worker in started:
        worker.stop()


def started(path: Path) -> Callable[[], str]:
    return lambda: path.exists() and path.read_text()


def test_a_typescript_producer_and_a_python_worker(hub_url: str, app: Drover, start_worker: StartWorker) -> None:
    q = queue()
    worker = start_worker(q, name="py-for-ts")
    script = f"""
        import {{ createClient }} from {json.dumps(str(ROOT / 'src/sdk/index.ts'))};
        const drover = createClient({{ url: {json.dumps(hub_url)}, token: {json.dumps(TOKENS['admin'])} }});
        const handle = await drover.enqueue('py.add', [20, 22], {{ queue: {json.dumps(q)} }});
        console.log(JSON.stringify({{ id: handle.id, result: await handle.wait({{ timeoutSeconds: 30 }}) }}));
    """
    script_file = Path(tempfile.mkdtemp(prefix="drover-pyw-")) / "produce.mts"
    script_file.write_text(script)
    out = subprocess.run([node(), str(script_file)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["result"] == 42
    assert app.AsyncResult(answer["id"]).info()["worker"] == "py-for-ts"
    # The worker logs the success once the hub answered its ack, which may be after the producer saw the result.
    wait_for(lambda: f"Task py.add[{answer['id']}] succeeded in " in worker.output(), 10, "the worker's success line")


def test_a_chord_with_python_members_and_a_typescript_body(app: Drover, start_worker: StartWorker, ts_worker: Process) -> None:
    q = queue()
    start_worker(q, name="py-chord")
    py_add = app.task(name="py.add", queue=q)(lambda *a: None)
    ts_add = app.task(name="test.add", queue="py")(lambda *a: None)
    flow = chord([py_add.s(i, i) for i in range(4)])(ts_add.s(100))
    assert flow.get(timeout=60) == 112
    workers = {r.id: r.info()["worker"] for r in flow.results}
    assert sorted(workers.values()) == ["py-chord"] * 4 + ["ts-worker"]


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_a_worker_killed_mid_task_leaves_it_to_another_exactly_once(app: Drover, start_worker: StartWorker, tmp_path: Path, pool: str) -> None:
    q = queue()
    first = start_worker(q, "--pool", pool, name="py-killed")
    mark = tmp_path / "mark"
    # A 2 s lease: the hub notices the dead worker 2 s after its last heartbeat.
    r = app.send_task("py.mark", [str(mark), 2], queue=q, time_limit=2)
    pid = int(wait_for(started(mark), 30, "the first worker starts the task").split()[0])
    # The worker alone: a prefork child dies with it rather than run on beside the next attempt.
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), 1.5, "the task's process is gone before the task would have ended")
    second = start_worker(q, name="py-second")
    result = r.get(timeout=60)
    assert result["hostname"] == "py-second" and result["retries"] == 1
    record = r.info()
    assert record["attempts"] == 2 and record["worker"] == "py-second" and record["state"] == "succeeded"
    assert "succeeded" not in first.output()
    # Logged once the hub answered the ack, which may be after r.get() saw the result.
    wait_for(lambda: f"Task py.mark[{r.id}] succeeded" in second.output(), 10, "the second worker's success line")
    assert second.output().count(f"Task py.mark[{r.id}] succeeded") == 1


def test_retry_with_countdown(app: Drover, start_worker: StartWorker) -> None:
    q = queue()
    worker = start_worker(q)
    began = time.monotonic()
    r = app.send_task("py.countdown", [1.5], queue=q)
    assert r.get(timeout=30) == {"retries": 1}
    assert time.monotonic() - began >= 1.5
    assert r.info()["attempts"] == 2
    assert f"Task py.countdown[{r.id}] retry: Retry in 1.5s (attempt 1 of 4): ConnectionError: the site is down" in worker.output()


def test_autoretry_for_retries_only_those_errors(app: Drover, start_worker: StartWorker) -> None:
    q = queue()
    worker = start_worker(q)
    flaky = app.send_task("py.autoretry", [2], queue=q)
    assert flaky.get(timeout=30) == 2
    assert flaky.info()["attempts"] == 3
    # Each line is logged once the hub answered its report, which may be after the API shows the outcome.
    wait_for(lambda: worker.output().count(f"Task py.autoretry[{flaky.id}] failed") == 2, 10, "both retried attempts' lines")
    other = app.send_task("py.autoretry_other", queue=q)
    with pytest.raises(TaskFailed) as failed:
        other.get(timeout=30)
    assert failed.value.type == "ValueError" and other.info()["attempts"] == 1
    assert failed.value.traceback is not None and 'raise ValueError("not in autoretry_for' in failed.value.traceback
    wait_for(lambda: "failed for good): ValueError: not in autoretry_for" in worker.output(), 10, "the failure's line")
    # The operator's CLI shows the same Python traceback.
    shown = subprocess.run([node(), "bin/drover.ts", "task", other.id, "--url", app.hub.url, "--token", TOKENS["admin"]], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "traceback:" in shown.stdout and 'raise ValueError("not in autoretry_for' in shown.stdout and "Traceback (most recent call last)" in shown.stdout


def test_bind_gives_the_request(app: Drover, start_worker: StartWorker) -> None:
    q = queue()
    worker = start_worker(q, "-r", "cn", name="py-bound")
    task_id = str(uuid.uuid4())
    due = datetime.now(timezone.utc) + timedelta(seconds=1)
    r = app.send_task("py.whoami", queue=q, region="cn", task_id=task_id, eta=due, headers={"tenant": "t1"})
    assert r.id == task_id
    fields = r.get(timeout=30)
    assert fields["id"] == task_id and fields["retries"] == 0 and fields["queue"] == q and fields["region"] == "cn"
    assert fields["hostname"] == "py-bound" and fields["pid"] == worker.proc.pid and fields["root_id"] is None
    assert fields["eta"] is not None and abs(datetime.fromisoformat(fields["eta"].replace("Z", "+00:00")) - due) < timedelta(milliseconds=2)
    assert fields["workflow"] is None and fields["headers"] == {"tenant": "t1"}
    # The same id again makes nothing new: it names the task that has it.
    assert app.send_task("py.whoami", queue=q, task_id=task_id.upper()).id == task_id
    assert app.AsyncResult(task_id).get(timeout=5) == fields
    whoami = app.task(name="py.whoami", queue=q, region="cn")(lambda *a: None)
    flow = chain(whoami.s(), whoami.s()).apply_async()
    last = flow.get(timeout=30)
    assert last["root_id"] == flow.results[0].id and last["parent_id"] == flow.results[0].id and last["args"][0]["id"] == flow.results[0].id
    assert last["workflow"] == flow.id and last["eta"] is None


def test_an_unknown_task_fails_not_registered(app: Drover, start_worker: StartWorker) -> None:
    q = queue()
    start_worker(q, module="tests.manytasks")
    assert app.send_task("py.many.100", queue=q).get(timeout=30) == 100
    r = app.send_task("py.nowhere", queue=q, max_retries=0)
    with pytest.raises(TaskFailed) as failed:
        r.get(timeout=30)
    assert failed.value.type == "NotRegistered" and "py.nowhere" in str(failed.value)


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_revoke_stops_a_running_task(app: Drover, start_worker: StartWorker, tmp_path: Path, pool: str) -> None:
    q = queue()
    worker = start_worker(q, "--pool", pool)
    mark = tmp_path / "mark"
    # A 3 s lease: heartbeats each second, so the revoke reaches the worker within about a second.
    r = app.send_task("py.mark", [str(mark), 60], queue=q, time_limit=3)
    wait_for(started(mark), 30, "the task starts")
    assert r.revoke(terminate=True) == "revoked"
    with pytest.raises(TaskFailed) as failed:
        r.get(timeout=20)
    assert failed.value.state == "revoked"
    wait_for(lambda: f"Task py.mark[{r.id}] revoked" in worker.output(), 20, "the worker logs the revoke")
    # The worker goes on: the slot is free again.
    assert app.send_task("py.add", [1, 2], queue=q).get(timeout=30) == 3


def test_warm_shutdown_lets_a_running_task_finish(app: Drover, start_worker: StartWorker, tmp_path: Path) -> None:
    q = queue()
    worker = start_worker(q, name="py-warm")
    mark = tmp_path / "mark"
    r = app.send_task("py.mark", [str(mark), 2], queue=q)
    wait_for(started(mark), 30, "the task starts")
    os.kill(worker.proc.pid, signal.SIGTERM)
    wait_for(lambda: "warm shutdown" in worker.output(), 10, "the warm shutdown begins")
    # Enqueued while it stops: it claims nothing more.
    waiting = app.send_task("py.add", [1], queue=q)
    assert worker.proc.wait(timeout=30) == 0
    assert r.info()["state"] == "succeeded" and r.get(timeout=5)["hostname"] == "py-warm"
    assert waiting.drover_state == "queued"


def test_cold_shutdown_hands_the_task_back_at_once(app: Drover, start_worker: StartWorker, tmp_path: Path) -> None:
    q = queue()
    worker = start_worker(q, name="py-cold")
    mark = tmp_path / "mark"
    # A lease of 10 minutes: only the hand-back lets another worker have it soon.
    r = app.send_task("py.mark", [str(mark), 600], queue=q, time_limit=600)
    first = wait_for(started(mark), 30, "the task starts")
    os.kill(worker.proc.pid, signal.SIGTERM)
    wait_for(lambda: "warm shutdown" in worker.output(), 10, "the warm shutdown begins")
    os.kill(worker.proc.pid, signal.SIGINT)
    assert worker.proc.wait(timeout=15) == 1
    assert "cold shutdown: handing back 1 running job" in worker.output()
    assert r.info()["state"] == "queued" and r.info()["attempts"] == 0
    start_worker(q, name="py-after")
    wait_for(lambda: started(mark)() != first, 30, "another worker starts the task")
    r.revoke(terminate=True)


def test_a_bad_token_exits_2(start_worker: StartWorker) -> None:
    bad = start_worker(queue(), token="not-a-token", ready=False)
    assert bad.proc.wait(timeout=60) == 2
    assert "needs a token with the scope consume or admin" in bad.output()
    enqueue_only = start_worker(queue(), "-r", "cn", token=TOKENS["enqueue"], ready=False)
    assert enqueue_only.proc.wait(timeout=60) == 2
    assert "consume@cn, consume or admin" in enqueue_only.output()


def test_prefork_runs_tasks_in_other_processes(app: Drover, start_worker: StartWorker, tmp_path: Path) -> None:
    q = queue()
    worker = start_worker(q, "--pool", "prefork", "-c", "2", name="py-prefork")
    pids = {app.send_task("py.whoami", queue=q).get(timeout=30)["pid"] for _ in range(4)}
    assert worker.proc.pid not in pids and 1 <= len(pids) <= 2
    # A time limit kills the process; the hub hears of it at once.
    mark = tmp_path / "mark"
    r = app.send_task("py.limited", [str(mark)], queue=q, max_retries=0)
    with pytest.raises(TaskFailed) as failed:
        r.get(timeout=30)
    assert failed.value.type == "TimeLimitExceeded"
    pid = int(mark.read_text())
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), 10, "the child is gone")
    assert app.send_task("py.add", [2, 2], queue=q).get(timeout=30) == 4


def test_queues_are_claimed_in_the_order_given(app: Drover, start_worker: StartWorker) -> None:
    first, second = queue(), queue()
    later = app.send_task("py.add", [2], queue=second)
    sooner = app.send_task("py.add", [1], queue=first)
    start_worker(f"{first},{second}", "-c", "1")
    assert sooner.get(timeout=30) == 1 and later.get(timeout=30) == 2
    assert sooner.info()["startedAt"] < later.info()["startedAt"]


def test_an_unreachable_hub_is_retried_with_a_log_line(start_worker: StartWorker) -> None:
    from .conftest import free_port

    away = start_worker(queue(), "--url", f"http://127.0.0.1:{free_port()}", ready=False)
    wait_for(lambda: "claim failed" in away.output() and "retrying in" in away.output(), 30, "the worker says it will try again")
    assert away.proc.poll() is None


def test_remote_control_ping_grow_shrink_broadcast_and_shutdown(app: Drover, start_worker: StartWorker) -> None:
    q = queue()
    worker = start_worker(q, name=f"py-ctl-{q}")
    name = f"py-ctl-{q}"

    def control(command: str, **args: Any) -> dict[str, Any]:
        answer: dict[str, Any] = app.hub.call("POST", "/v1/control", {"workers": [name], "command": command, "args": args, "waitSeconds": 10})
        assert answer["replies"], answer
        return answer["replies"][0]  # type: ignore[no-any-return]

    wait_for(lambda: any(w["name"] == name and w["concurrency"] == 4 for w in app.hub.call("GET", "/v1/workers")["workers"]), 30, "the worker is listed")
    assert control("ping") == {"worker": name, "ok": True, "reply": "pong"}
    assert control("grow", n=2)["reply"] == {"concurrency": 6}
    assert control("shrink", n=10)["reply"] == {"concurrency": 1}
    assert control("cancel-consumer", queue="elsewhere")["error"]["type"] == "NotConsuming"
    sent = app.hub.call("POST", "/v1/broadcasts", {"task": "py.add", "args": [1, 2], "queue": q})
    assert sent["workers"] == [name]
    done = wait_for(lambda: (b := app.hub.call("GET", f"/v1/broadcasts/{sent['id']}"))["workers"][0]["state"] != "pending" and b, 30, "the broadcast runs")
    assert done["workers"][0]["result"] == 3
    assert control("shutdown")["reply"] == {"stopping": True}
    assert worker.proc.wait(timeout=30) == 0
    listed = {w["name"]: w for w in app.hub.call("GET", "/v1/workers")["workers"]}
    assert listed[name]["state"] == "gone"
