"""Celery over drover: real `celery -A tests.celeryapp worker` processes (prefork and threads pools)
against npm start, drover:// as broker and result backend."""
from __future__ import annotations

import os
import signal
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from celery import chord, group
from celery.exceptions import ChordError, TaskRevokedError

from drover._http import Hub
from drover.celery import messages
from tests import celeryapp
from tests.celeryapp import Boom, add, boom, collect, flaky, limited, progress, record, replaced, slow

from .conftest import PYTHON, ROOT, TOKENS, Process, wait_for

POOLS = ["prefork", "threads"]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture(scope="module")
def env(hub_url: str) -> Iterator[dict[str, str]]:
    url = hub_url.replace("http://", f"drover://:{TOKENS['admin']}@")
    notes = tempfile.mkdtemp(prefix="drover-celery-")
    celeryapp.app.conf.broker_url = url
    celeryapp.app.conf.result_backend = url
    yield {"DROVER_CELERY_URL": url, "DROVER_CELERY_DIR": notes, "PYTHONPATH": str(ROOT / "python")}


@pytest.fixture(scope="module")
def hub(hub_url: str) -> Hub:
    return Hub(hub_url, TOKENS["admin"])


class Workers:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[Process] = []

    def start(self, queues: str, pool: str, tag: str, concurrency: int = 2) -> Process:
        log = Path(tempfile.mkdtemp(prefix="drover-celery-worker-")) / "worker.log"
        args = [PYTHON, "-m", "celery", "-A", "tests.celeryapp", "worker", "-P", pool, "-c", str(concurrency), "-Q", queues, "-n", f"{tag}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
        worker = Process(args, {**self.env, "WORKER_TAG": tag}, log)
        self.started.append(worker)
        wait_for(lambda: " ready." in worker.output() or worker.proc.poll() is not None, 60, f"the {pool} worker starts")
        assert worker.proc.poll() is None, worker.output()
        return worker

    def stop(self) -> None:
        for worker in self.started:
            worker.stop()


@pytest.fixture(scope="module")
def shared(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """One worker per pool for the module, each on its own queue: the pool's queue name."""
    workers = Workers(env)
    queues = {pool: f"cel-{pool}-{uuid.uuid4().hex[:6]}" for pool in POOLS}
    for pool, q in queues.items():
        workers.start(q, pool, pool)
    yield queues
    workers.stop()


@pytest.fixture
def workers(env: dict[str, str]) -> Iterator[Workers]:
    w = Workers(env)
    yield w
    w.stop()


def key() -> str:
    return uuid.uuid4().hex


@pytest.mark.parametrize("pool", POOLS)
def test_delay_and_get_a_result_and_a_failure(pool: str, shared: dict[str, str], hub: Hub) -> None:
    q = shared[pool]
    r = add.apply_async((2, 3), queue=q)
    assert r.get(timeout=30) == 5
    assert r.state == "SUCCESS"
    task = hub.call("GET", f"/v1/tasks/{r.id}")  # the drover task IS the Celery task
    assert (task["task"], task["state"], task["attempts"], task["result"]) == ("cel.add", "succeeded", 1, 5)

    f = boom.apply_async(("no luck",), queue=q)
    with pytest.raises(Boom, match="no luck"):
        f.get(timeout=30)
    assert f.state == "FAILURE"
    assert "celeryapp.py" in f.traceback and "Boom: no luck" in f.traceback
    assert hub.call("GET", f"/v1/tasks/{f.id}")["error"]["type"] == "tests.celeryapp.Boom"


@pytest.mark.parametrize("pool", POOLS)
def test_retry_with_countdown_is_one_task_whose_attempts_count_the_retries(pool: str, shared: dict[str, str], hub: Hub, env: dict[str, str]) -> None:
    k = key()
    r = flaky.apply_async((k, 2), queue=shared[pool])
    # Between attempts the task reads RETRY, with the error that asked for it.
    wait_for(lambda: r.state == "RETRY", 30, "the first retry is pending")
    assert isinstance(r.result, Boom) and "failing" in str(r.result)
    assert r.get(timeout=40) == 2
    runs = [line.split() for line in lines(Path(env["DROVER_CELERY_DIR"]) / k)]
    assert [run[1] for run in runs] == ["0", "1", "2"]
    # countdown=2 is kept: each attempt starts 2 s after the last (the hub's own backoff would be 1 s or less).
    starts = [float(run[2]) for run in runs]
    assert all(b - a >= 1.9 for a, b in zip(starts, starts[1:])), starts
    task = hub.call("GET", f"/v1/tasks/{r.id}")
    assert (task["state"], task["attempts"]) == ("succeeded", 3)
    mine = [t for t in hub.call("GET", f"/v1/tasks?queue={shared[pool]}&task=cel.flaky&limit=500")["tasks"] if t["args"][0] == k]
    assert [t["id"] for t in mine] == [r.id]


@pytest.mark.parametrize("pool", POOLS)
def test_an_eta_in_the_future_is_delivered_once_when_it_comes(pool: str, shared: dict[str, str], hub: Hub, env: dict[str, str]) -> None:
    k = key()
    eta = datetime.now(timezone.utc) + timedelta(seconds=3)
    r = record.apply_async((k,), eta=eta, queue=shared[pool])
    assert hub.call("GET", f"/v1/tasks/{r.id}")["state"] == "delayed"
    assert r.get(timeout=30) == pool
    ran = lines(Path(env["DROVER_CELERY_DIR"]) / k)
    assert len(ran) == 1 and float(ran[0].split()[1]) >= eta.timestamp() - 0.5
    assert hub.call("GET", f"/v1/tasks/{r.id}")["attempts"] == 1


def test_a_two_hour_countdown_waits_in_the_hub_not_in_a_worker(workers: Workers, hub: Hub) -> None:
    q = f"cel-later-{key()[:6]}"
    worker = workers.start(q, "threads", "later")
    later = record.apply_async((key(),), countdown=7200, queue=q)
    # A task sent after it runs at once: the worker has claimed since, and was not given the later one.
    assert record.apply_async((key(),), queue=q).get(timeout=30) == "later"
    task = hub.call("GET", f"/v1/tasks/{later.id}")
    assert (task["state"], task["attempts"], task["worker"]) == ("delayed", 0, None)
    assert later.id not in worker.output()  # Celery logs each task it receives; this one never came
    eta = datetime.fromisoformat(task["eta"].replace("Z", "+00:00"))
    assert timedelta(seconds=7100) < eta - datetime.now(timezone.utc) <= timedelta(seconds=7200)
    later.revoke()


def test_expires_ends_a_task_not_started_in_time_as_revoked(env: dict[str, str]) -> None:
    r = record.apply_async((key(),), expires=1, queue=f"cel-nobody-{key()[:6]}")
    wait_for(lambda: r.state == "REVOKED", 30, "the task expires")
    with pytest.raises(TaskRevokedError):
        r.get(timeout=5)


def test_revoke_of_a_queued_task(env: dict[str, str], hub: Hub) -> None:
    r = record.apply_async((key(),), queue=f"cel-nobody-{key()[:6]}", priority=2)
    assert r.state == "PENDING"
    # Celery on Redis runs 0 first; drover runs 9 first: priority 2 is drover's 7.
    assert hub.call("GET", f"/v1/tasks/{r.id}")["priority"] == 7
    r.revoke()
    wait_for(lambda: r.state == "REVOKED", 10, "the task is revoked")
    assert hub.call("GET", f"/v1/tasks/{r.id}")["state"] == "revoked"


@pytest.mark.parametrize("pool", POOLS)
def test_revoke_of_a_running_task_with_terminate(pool: str, shared: dict[str, str], hub: Hub, env: dict[str, str]) -> None:
    k = key()
    path = Path(env["DROVER_CELERY_DIR"]) / k
    r = slow.apply_async((k, 8), queue=shared[pool])
    wait_for(lambda: lines(path), 30, "the task starts")
    r.revoke(terminate=True)
    wait_for(lambda: r.state == "REVOKED", 20, "the task ends revoked")
    assert hub.call("GET", f"/v1/tasks/{r.id}")["state"] == "revoked"
    if pool == "prefork":
        # Its process was terminated: it never got to the end.
        assert not any(line.startswith("done") for line in lines(path))


@pytest.mark.parametrize("pool", POOLS)
def test_chain_and_group(pool: str, shared: dict[str, str]) -> None:
    q = shared[pool]
    c = (add.s(1, 2).set(queue=q) | add.s(3).set(queue=q) | add.s(4).set(queue=q)).apply_async()
    assert c.get(timeout=30) == 10
    g = group(add.s(i, i).set(queue=q) for i in range(5)).apply_async()
    assert g.get(timeout=30) == [0, 2, 4, 6, 8]


@pytest.mark.parametrize("pool", POOLS)
def test_a_chord_is_counted_by_the_hub_and_its_body_runs_once(pool: str, shared: dict[str, str], hub: Hub, env: dict[str, str]) -> None:
    q = shared[pool]
    k = key()
    r = chord([add.s(i, i).set(queue=q) for i in range(4)], collect.s(k).set(queue=q)).apply_async()
    assert r.get(timeout=30) == [0, 2, 4, 6]
    assert len(lines(Path(env["DROVER_CELERY_DIR"]) / k)) == 1
    # One drover chord workflow under Celery's ids: the members, then the body.
    body = hub.call("GET", f"/v1/tasks/{r.id}")
    # The workflow hears of its body's end just after the body's record does.
    flow = wait_for(lambda: (f := hub.call("GET", f"/v1/workflows/{body['workflowId']}"))["state"] != "running" and f, 30, "the workflow ends")
    assert (flow["shape"], flow["state"]) == ("chord", "succeeded")
    assert [t["id"] for t in flow["tasks"]] == [m.id for m in r.parent.results] + [r.id]
    # No chord_unlock task polled for the header.
    assert hub.call("GET", "/v1/tasks?task=celery.chord_unlock")["tasks"] == []
    # A member that fails: the body never runs; waiting on it raises the member's error (Celery
    # looks at the header first), and the body itself reads FAILURE with Celery's ChordError.
    failing = chord([add.s(1, 1).set(queue=q), boom.s("no").set(queue=q)], collect.s(key()).set(queue=q)).apply_async()
    with pytest.raises(Boom):
        failing.get(timeout=30)
    wait_for(lambda: failing.state == "FAILURE", 30, "the body reads FAILURE")
    assert isinstance(failing.result, ChordError) and "ended failed" in str(failing.result)


def test_a_chord_body_that_fails_inside_one_wait_raises_its_members_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # The hub fails a chord's body milliseconds after its member: both can happen inside one held
    # read. get() then raises the member's error, as Celery reads the header before the body.
    backend = celeryapp.app.backend
    reads: list[str] = []

    def body_failed(task_id: str, wait: float | None = None) -> dict[str, Any]:
        reads.append(task_id)
        return {"task_id": task_id, "status": "FAILURE", "result": ChordError("the workflow failed"), "traceback": None}

    def header_failed() -> None:
        raise Boom("no")

    monkeypatch.setattr(backend, "_get_task_meta_for", body_failed)
    with pytest.raises(Boom):
        backend.wait_for("body-id", timeout=5, on_interval=header_failed)
    assert reads == ["body-id"]
    # Without a join to ask (a plain task's get), the failure is the body's own.
    assert backend.wait_for("body-id", timeout=5)["status"] == "FAILURE"


@pytest.mark.parametrize("pool", POOLS)
def test_a_chord_whose_member_worker_is_killed_runs_its_body_once(pool: str, workers: Workers, hub: Hub, env: dict[str, str]) -> None:
    q = f"cel-chord-{key()[:6]}"
    slow_key, body_key = key(), key()
    notes = Path(env["DROVER_CELERY_DIR"])
    first = workers.start(q, pool, "first")
    r = chord([slow.s(slow_key, 3).set(queue=q), add.s(1, 1).set(queue=q)], collect.s(body_key).set(queue=q)).apply_async()
    wait_for(lambda: lines(notes / slow_key), 30, "the slow member starts")
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    workers.start(q, pool, "second")
    assert r.get(timeout=60) == ["second", 2]
    assert [line.split()[0] for line in lines(notes / slow_key)] == ["start", "start", "done"]
    assert lines(notes / body_key) == ["collected ['second', 2] second"]
    assert hub.call("GET", f"/v1/tasks/{r.id}")["attempts"] == 1


@pytest.mark.parametrize("pool", POOLS)
def test_update_state_is_the_running_tasks_progress(pool: str, shared: dict[str, str], env: dict[str, str]) -> None:
    k = key()
    r = progress.apply_async((k,), queue=shared[pool])
    wait_for(lambda: r.state == "PROGRESS", 30, "the task reports progress")
    assert r.info == {"done": 1}
    (Path(env["DROVER_CELERY_DIR"]) / k).write_text("go")
    assert r.get(timeout=30) == "finished"


def test_task_replace_is_refused_clearly(shared: dict[str, str]) -> None:
    # One drover task per Celery id: a replacement under the same id cannot be queued.
    with pytest.raises(messages.MessageRefused, match="Task.replace"):
        replaced.apply_async(queue=shared["threads"]).get(timeout=30)


def test_a_celery_task_runs_on_a_typescript_worker_and_its_result_reads_in_celery(env: dict[str, str], ts_worker: Process) -> None:
    # The TypeScript worker of queue `py` (conftest) runs test.echo: a Celery message is an ordinary task to it.
    r = celeryapp.app.send_task("test.echo", args=[2, "three"], queue="py")
    result = r.get(timeout=30)
    assert result["args"] == [2, "three"] and result["worker"] == "ts-worker" and result["attempt"] == 1
    assert r.state == "SUCCESS"


def test_a_task_enqueued_in_another_language_runs_in_celery(shared: dict[str, str], hub: Hub) -> None:
    made = hub.call("POST", "/v1/tasks", {"task": "cel.add", "args": [2, 5], "queue": shared["threads"]})
    assert celeryapp.app.AsyncResult(made["id"]).get(timeout=30) == 7


@pytest.mark.parametrize("pool", POOLS)
def test_a_worker_killed_mid_task_its_task_finished_once_by_another(pool: str, workers: Workers, hub: Hub, env: dict[str, str]) -> None:
    q = f"cel-kill-{key()[:6]}"
    k = key()
    path = Path(env["DROVER_CELERY_DIR"]) / k
    first = workers.start(q, pool, "first")
    r = slow.apply_async((k, 3), queue=q)
    wait_for(lambda: lines(path), 30, "the task starts")
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    workers.start(q, pool, "second")
    assert r.get(timeout=60) == "second"
    ran = lines(path)
    assert [line.split()[0] for line in ran] == ["start", "start", "done"], ran
    assert ran[-1] == "done second"
    task = hub.call("GET", f"/v1/tasks/{r.id}")
    assert (task["state"], task["attempts"]) == ("succeeded", 2)


@pytest.mark.parametrize("pool", POOLS)
def test_a_warm_shutdown_hands_back_a_task_it_had_claimed_but_not_started(pool: str, workers: Workers, hub: Hub) -> None:
    q = f"cel-stop-{key()[:6]}"
    worker = workers.start(q, pool, "stopping")
    first = limited.apply_async(queue=q)
    assert first.get(timeout=30) == "stopping"
    # Celery's rate limit (1/m) holds the second in the worker's memory, claimed and never started.
    second = limited.apply_async(queue=q)
    wait_for(lambda: "cel.limited[" + second.id + "] received" in worker.output(), 30, "the second task is claimed")
    # SIGTERM to the worker alone, as `kill` or a service manager sends it: Celery's warm shutdown.
    worker.proc.send_signal(signal.SIGTERM)
    worker.proc.wait(timeout=30)
    assert "unacknowledged message(s)" in worker.output()  # kombu restores what Celery never acked
    task = hub.call("GET", f"/v1/tasks/{second.id}")
    assert (task["state"], task["attempts"]) == ("queued", 0)


def test_a_region_queue_is_served_only_by_the_region_worker(workers: Workers) -> None:
    q = f"cel-r-{key()[:6]}"
    workers.start(q, "threads", "anywhere")
    workers.start(f"{q}@cn", "threads", "cn")
    results = [record.apply_async((key(),), queue=f"{q}@cn") for _ in range(6)]
    assert [r.get(timeout=30) for r in results] == ["cn"] * 6


def test_messages_map_celery_priority_and_queue_names() -> None:
    # Celery on Redis runs 0 first; drover runs 9 first.
    assert [messages.drover_priority(p) for p in (0, 9, None)] == [9, 0, None]
    assert messages.split_queue("scrape@cn") == ("scrape", "cn")
    assert not messages.is_drover_queue("celery@host.celery.pidbox")
    with pytest.raises(messages.MessageRefused, match="json"):
        messages.to_task({"headers": {"task": "t", "id": "x"}, "content-type": "application/x-python-serialize", "body": b""}, "q")


def test_drover_states_read_as_celerys() -> None:
    from drover.celery.backend import meta_of

    base = {"id": "t", "task": "cel.add", "attempts": 1, "error": None, "result": None}
    assert meta_of({**base, "state": "delayed", "attempts": 0})["status"] == "PENDING"
    assert meta_of({**base, "state": "running"})["status"] == "STARTED"
    retrying = meta_of({**base, "state": "delayed", "error": {"type": "tests.celeryapp.Boom", "message": "m", "stack": "tb"}})
    assert (retrying["status"], retrying["result"]["exc_module"], retrying["result"]["exc_type"], retrying["traceback"]) == ("RETRY", "tests.celeryapp", "Boom", "tb")
    assert meta_of({**base, "state": "expired"})["result"]["exc_type"] == "TaskRevokedError"
    assert meta_of({**base, "state": "failed", "error": {"type": "ValueError", "message": "x"}})["result"]["exc_module"] == "builtins"


def test_the_token_may_come_from_the_transport_options_and_droverss_is_https() -> None:
    from kombu import Connection

    from drover.celery.connect import hub_for

    hub = hub_for(Connection("drover://127.0.0.1:8787", transport_options={"token": "from-options"}))
    assert (hub.url, hub.token) == ("http://127.0.0.1:8787", "from-options")
    secure = hub_for(Connection("droverss://:in-url@hub.example.com"))
    assert (secure.url, secure.token) == ("https://hub.example.com", "in-url")
    assert hub_for(Connection("drover://:t@10.0.0.5")).url == "http://10.0.0.5:8787"
    with pytest.raises(ValueError, match="token"):
        hub_for(Connection("drover://127.0.0.1:8787"))


def test_celery_beat_with_its_own_scheduler_sends_over_the_transport(workers: Workers, hub: Hub, env: dict[str, str]) -> None:
    q = f"cel-beat-{key()[:6]}"
    k = key()
    notes = Path(env["DROVER_CELERY_DIR"])
    workers.start(q, "threads", "beat-worker")
    state = Path(tempfile.mkdtemp(prefix="drover-celery-beat-"))
    beat = Process(
        [PYTHON, "-m", "celery", "-A", "tests.celeryapp", "beat", "-s", str(state / "celerybeat-schedule"), "-l", "INFO"],
        {**env, "DROVER_CELERY_BEAT_QUEUE": q, "DROVER_CELERY_BEAT_KEY": k},
        state / "beat.log",
    )
    try:
        wait_for(lambda: len(lines(notes / k)) >= 3, 60, "three of beat's tasks run on the worker")
    finally:
        beat.stop()
    assert all(line.endswith(" beat-worker") for line in lines(notes / k))
    sent = hub.call("GET", f"/v1/tasks?queue={q}&task=cel.record")["tasks"]
    assert len(sent) >= 3 and "Sending due task record-every-second" in beat.output()


def test_a_lease_a_prefork_child_ended_is_let_go_by_the_parent_without_a_heartbeat() -> None:
    from drover.celery.leases import Leases

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def call(self, method: str, path: str, body: Any = None, timeout: Any = None) -> Any:
            self.calls.append(path)
            return {}

    hub = Recorder()
    leases = Leases()
    # 1.5 s leases: heartbeats every 0.5 s.
    leases.hold(hub, "ended-in-child", "t1", 1.5)  # type: ignore[arg-type]
    leases.hold(hub, "still-running", "t2", 1.5)  # type: ignore[arg-type]
    child = os.fork()
    if child == 0:  # the pool's child, which ran t1 and acked it
        leases.ended.tell("ended-in-child")
        os._exit(0)
    os.waitpid(child, 0)
    wait_for(lambda: "/v1/leases/still-running/heartbeat" in hub.calls, 10, "a heartbeat of the lease still held")
    assert leases.get("ended-in-child") is None
    assert "/v1/leases/ended-in-child/heartbeat" not in hub.calls
    leases.ended.tell("in-the-parent")  # the parent's own ends need no word: it has let go already
    assert leases.ended.read() == []
