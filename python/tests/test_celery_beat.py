"""drover.celery.beat.Scheduler: real `celery beat` processes keep the hub's schedules equal to the
app's beat_schedule, and the hub fires the slots (one task per slot, however many beats run)."""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from celery import Celery
from celery.schedules import crontab

from drover._http import Hub
from drover.celery.beat import ScheduleRefused, cron_of, hub_of, schedule_id
from drover.errors import NotFound

from .conftest import PYTHON, ROOT, TOKENS, Process, wait_for

StartBeat = Callable[..., Process]


@pytest.fixture
def hub(hub_url: str) -> Hub:
    return Hub(hub_url, TOKENS["admin"])


@pytest.fixture
def start_beat(hub_url: str) -> Iterator[StartBeat]:
    """Starts `celery -A tests.beatapp beat` with the test's entries; the test's beats stop at its end."""
    started: list[Process] = []

    def start(prefix: str, entries: str, *, queue: str = "beat", scheduler_flag: bool = True, token: str = TOKENS["admin"], url: str | None = None, broker: str = "") -> Process:
        log = Path(tempfile.mkdtemp(prefix="drover-beat-")) / "beat.log"
        flags = ["-S", "drover.celery.beat:Scheduler"] if scheduler_flag else []
        args = [PYTHON, "-m", "celery", "-A", "tests.beatapp", "beat", *flags, "-l", "info", "--max-interval", "1"]
        env = {"PYTHONPATH": str(ROOT / "python"), "DROVER_URL": url or hub_url, "DROVER_TOKEN": token, "BEAT_PREFIX": prefix, "BEAT_ENTRIES": entries, "BEAT_QUEUE": queue, "BEAT_BROKER": broker}
        if not scheduler_flag:
            env["BEAT_SCHEDULER_IN_CONFIG"] = "1"
        beat = Process(args, env, log)
        started.append(beat)
        return beat

    yield start
    for beat in started:
        beat.stop()


def names() -> tuple[str, str]:
    """A schedule id prefix and a queue of the test's own."""
    tag = uuid.uuid4().hex[:8]
    return f"t{tag}", f"beat-{tag}"


def schedule(hub: Hub, sid: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = hub.call("GET", f"/v1/schedules/{sid}")
        return found
    except NotFound:
        return None


def slot_tasks(hub: Hub, sid: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = hub.call("GET", f"/v1/tasks?schedule={sid}&limit=500")["tasks"]
    return tasks


def slot_times(tasks: list[dict[str, Any]], sid: str) -> list[datetime]:
    prefix = f"schedule:{sid}:"
    assert all(t["idempotencyKey"].startswith(prefix) for t in tasks), [t["idempotencyKey"] for t in tasks]
    return sorted(datetime.fromisoformat(t["idempotencyKey"][len(prefix) :].replace("Z", "+00:00")) for t in tasks)


def logged_sync(beat: Process, sid: str) -> Callable[[], bool]:
    """True once the beat process has read the hub after its start (it logs what the hub runs next)."""
    return lambda: f"Hub runs {sid} " in beat.output() or beat.proc.poll() is not None


def test_entries_become_hub_schedules_and_every_slots_become_tasks(hub: Hub, start_beat: StartBeat) -> None:
    prefix, q = names()
    beat = start_beat(prefix, "every,cron", queue=q)
    every = wait_for(lambda: schedule(hub, f"{prefix}.every"), 60, "beat makes the every schedule")
    cron = wait_for(lambda: schedule(hub, f"{prefix}.cron"), 10, "beat makes the crontab schedule")
    assert {k: every[k] for k in ("every", "cron", "task", "args", "kwargs", "queue", "region", "priority", "enabled")} == {
        "every": 2, "cron": None, "task": "tests.beat.tick", "args": [1, 2], "kwargs": {"x": "y"}, "queue": q, "region": "cn", "priority": 7, "enabled": True,
    }
    assert {k: cron[k] for k in ("every", "cron", "timezone", "task", "args", "kwargs", "queue", "region")} == {
        "every": None, "cron": "0,15,30,45 8-17 * * 1-5", "timezone": "Europe/Paris", "task": "tests.beat.report", "args": [], "kwargs": {}, "queue": q, "region": None,
    }
    # Celery's own entry, added as PersistentScheduler adds it (results here are not expired by a backend).
    # The beat sends its entries one after another: this one may land after the two above.
    cleanup = wait_for(lambda: schedule(hub, f"{prefix}.celery.backend_cleanup"), 10, "beat makes Celery's cleanup schedule")
    assert cleanup is not None and (cleanup["cron"], cleanup["task"], cleanup["queue"]) == ("0 4 * * *", "celery.backend_cleanup", "celery")
    tasks = wait_for(lambda: len(t := slot_tasks(hub, f"{prefix}.every")) >= 2 and t, 30, "the hub fires two slots")
    assert {(t["task"], t["queue"], t["region"], tuple(t["args"]), tuple(t["kwargs"].items())) for t in tasks} == {("tests.beat.tick", q, "cn", (1, 2), (("x", "y"),))}
    assert len(set(slot_times(tasks, f"{prefix}.every"))) == len(tasks)
    # What a beat user reads in the log: the hub's sends and next runs, and the option left out.
    wait_for(lambda: f"Hub sent due task {prefix}.every (tests.beat.tick)" in beat.output(), 30, "beat logs the hub's sends")
    assert f"Hub runs {prefix}.cron (tests.beat.report) next at " in beat.output()
    assert "entry 'cron': drover's hub does not carry expires" in beat.output()
    assert beat.proc.poll() is None, beat.output()
    assert not (ROOT / "celerybeat-schedule").exists() and not (ROOT / "python" / "celerybeat-schedule").exists()


def test_two_beats_at_once_send_each_slot_once_and_do_not_move_the_anchor(hub: Hub, start_beat: StartBeat) -> None:
    prefix, q = names()
    sid = f"{prefix}.every"
    first = start_beat(prefix, "every", queue=q)
    made = wait_for(lambda: schedule(hub, sid), 60, "the first beat makes the schedule")
    wait_for(lambda: slot_tasks(hub, sid), 30, "a first slot")
    second = start_beat(prefix, "every", queue=q)
    wait_for(logged_sync(second, sid), 60, "the second beat syncs")
    assert second.proc.poll() is None, second.output()
    now = schedule(hub, sid)
    assert now is not None and (now["createdAt"], now["updatedAt"]) == (made["createdAt"], made["updatedAt"])
    count = len(slot_tasks(hub, sid))
    tasks = wait_for(lambda: len(t := slot_tasks(hub, sid)) >= count + 3 and t, 30, "three more slots with both beats running")
    times = slot_times(tasks, sid)
    assert len(set(times)) == len(tasks), "a slot was sent twice"
    # Every slot is on the grid anchored when the schedule was made: two beats never re-anchored it.
    anchor = datetime.fromisoformat(made["createdAt"].replace("Z", "+00:00"))
    assert all(round((t - anchor).total_seconds() * 1000) % 2000 == 0 for t in times), [str(t) for t in times]
    # Nothing but the hub's slots reached the queue (neither beat sent a task of its own).
    assert len(hub.call("GET", f"/v1/tasks?queue={q}&limit=500")["tasks"]) >= len(tasks)
    assert {t["idempotencyKey"].split(":")[1] for t in hub.call("GET", f"/v1/tasks?queue={q}&limit=500")["tasks"]} == {sid}
    assert first.proc.poll() is None, first.output()


def test_slots_keep_coming_after_beat_is_killed(hub: Hub, start_beat: StartBeat) -> None:
    prefix, q = names()
    sid = f"{prefix}.every"
    beat = start_beat(prefix, "every", queue=q, scheduler_flag=False)  # app.conf.beat_scheduler, no -S
    wait_for(lambda: slot_tasks(hub, sid), 60, "a first slot")
    os.killpg(beat.proc.pid, signal.SIGKILL)
    beat.proc.wait()
    count = len(slot_tasks(hub, sid))
    tasks = wait_for(lambda: len(t := slot_tasks(hub, sid)) >= count + 2 and t, 30, "two more slots with no beat running")
    assert len(set(slot_times(tasks, sid))) == len(tasks)


def test_an_entry_removed_from_the_config_is_deleted_and_others_schedules_stay(hub: Hub, start_beat: StartBeat) -> None:
    prefix, q = names()
    theirs: dict[str, Any] = {"id": f"other-{prefix}.keep", "every": 3600, "task": "someone.else", "queue": q}
    hub.call("POST", "/v1/schedules", theirs)
    beat = start_beat(prefix, "every,extra", queue=q)
    wait_for(lambda: schedule(hub, f"{prefix}.extra"), 60, "beat makes the extra schedule")
    kept = wait_for(lambda: schedule(hub, f"{prefix}.every"), 10, "beat makes the every schedule")
    beat.stop()
    again = start_beat(prefix, "every", queue=q)
    said = f"deleted hub schedule {prefix}.extra: no longer in beat_schedule"
    # Beat logs the deletion once the hub has answered it, so the hub can show it gone a moment before the log says so.
    wait_for(lambda: said in again.output() or again.proc.poll() is not None, 60, "the restarted beat deletes the removed entry")
    assert again.proc.poll() is None, again.output()
    assert schedule(hub, f"{prefix}.extra") is None
    assert schedule(hub, theirs["id"]) is not None
    # The entry still configured is left as it was: a restart does not re-anchor it.
    still = schedule(hub, f"{prefix}.every")
    assert still is not None and still["updatedAt"] == kept["updatedAt"]


def test_an_unsupported_schedule_stops_beat_at_start_naming_the_entry(hub: Hub, start_beat: StartBeat) -> None:
    prefix, q = names()
    beat = start_beat(prefix, "every,sunset", queue=q)
    wait_for(lambda: beat.proc.poll() is not None, 60, "beat stops")
    assert beat.proc.returncode != 0
    assert "beat_schedule entry 'sunset': drover's hub runs schedule(run_every=...) and crontab(...) only, not solar" in beat.output()
    assert not [s for s in hub.call("GET", "/v1/schedules")["schedules"] if s["id"].startswith(prefix + ".")]


def test_a_token_without_the_admin_scope_stops_beat_at_start(start_beat: StartBeat) -> None:
    prefix, q = names()
    beat = start_beat(prefix, "every", queue=q, token=TOKENS["enqueue"])
    wait_for(lambda: beat.proc.poll() is not None, 60, "beat stops")
    assert beat.proc.returncode != 0
    assert "refused beat's schedules: 403 forbidden" in beat.output(), beat.output()


@pytest.mark.skipif(importlib.util.find_spec("drover.celery.transport") is None, reason="drover's kombu transport is not in this tree")
def test_the_hub_and_token_from_a_drover_broker_url(hub: Hub, hub_url: str, start_beat: StartBeat) -> None:
    prefix, q = names()
    broker = hub_url.replace("http://", f"drover://:{TOKENS['admin']}@")
    beat = start_beat(prefix, "every", queue=q, broker=broker)
    wait_for(lambda: slot_tasks(hub, f"{prefix}.every") or beat.proc.poll() is not None, 60, "a slot of the schedule beat made")
    assert beat.proc.poll() is None, beat.output()


@pytest.mark.skipif(importlib.util.find_spec("drover.celery.transport") is None, reason="drover's kombu transport is not in this tree")
def test_a_celery_worker_over_drover_runs_the_slots(hub: Hub, hub_url: str, start_beat: StartBeat, tmp_path: Path) -> None:
    prefix, q = names()
    sid = f"{prefix}.every"
    broker = hub_url.replace("http://", f"drover://:{TOKENS['admin']}@")
    start_beat(prefix, "every", queue=q, broker=broker)
    runs = tmp_path / "runs"
    env = {"PYTHONPATH": str(ROOT / "python"), "BEAT_BROKER": broker, "BEAT_QUEUE": q, "BEAT_RUNS": str(runs), "BEAT_PREFIX": prefix}
    worker = Process([PYTHON, "-m", "celery", "-A", "tests.beatapp", "worker", "-Q", f"{q}@cn", "-P", "threads", "-c", "2", "-l", "info"], env, tmp_path / "worker.log")
    try:
        lines = wait_for(lambda: runs.exists() and len(r := runs.read_text().splitlines()) >= 2 and r, 60, "the worker runs two slots")
    finally:
        worker.stop()
    ids = {t["id"] for t in slot_tasks(hub, sid)}
    assert {line.split()[0] for line in lines} <= ids and {line.split(" ", 1)[1] for line in lines} == {"1 2 y"}


def test_a_beat_that_cannot_reach_the_hub_keeps_trying(start_beat: StartBeat) -> None:
    prefix, q = names()
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    beat = start_beat(prefix, "every", queue=q, url=f"http://127.0.0.1:{port}")
    wait_for(lambda: beat.output().count("could not sync with drover's hub") >= 2 or beat.proc.poll() is not None, 60, "beat tries twice")
    assert beat.proc.poll() is None, beat.output()


def test_the_hub_comes_from_the_drover_broker_url() -> None:
    app = Celery("b", broker="droverss://:s3cret@hub.example:8443")
    found = hub_of(app)
    assert (found.url, found.token) == ("https://hub.example:8443", "s3cret")
    app = Celery("b", broker="drover://127.0.0.1:8787")
    app.conf.broker_transport_options = {"token": "from-options"}
    assert (hub_of(app).url, hub_of(app).token) == ("http://127.0.0.1:8787", "from-options")
    app.conf.update(drover_beat_url="http://10.0.0.1:9000", drover_beat_token="admin-only")
    assert (hub_of(app).url, hub_of(app).token) == ("http://10.0.0.1:9000", "admin-only")
    with pytest.raises(ScheduleRefused, match="drover_beat_url and drover_beat_token"):
        hub_of(Celery("b", broker="memory://"))


def test_schedule_ids_and_crontabs() -> None:
    assert schedule_id("celery", "reports.daily") == "celery.reports.daily"
    odd = schedule_id("celery", "send report/daily")
    assert odd.startswith("celery.send_report_daily-") and odd != schedule_id("celery", "send report daily")
    assert len(schedule_id("celery", "x" * 300)) == 100
    assert schedule_id("celery", "x" * 300) != schedule_id("celery", "x" * 301)
    assert cron_of("a", crontab()) == "* * * * *"
    assert cron_of("a", crontab(minute=0, hour="0,8-17/2", day_of_month="1-7", month_of_year="*/3")) == "0 0,8,10,12,14,16 1-7 1,4,7,10 *"
    with pytest.raises(ScheduleRefused, match="entry 'both'.*day_of_month and day_of_week"):
        cron_of("both", crontab(0, 0, day_of_week="mon", day_of_month="1-7"))
