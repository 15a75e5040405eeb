"""A Celery app for the beat tests (`celery -A tests.beatapp beat`): its beat_schedule is picked by
environment variables, so each test runs its own entries under its own schedule id prefix.

The broker is `memory://` (this app never sends a task itself: the hub fires the slots) and the hub
is named through drover_beat_url and drover_beat_token; or, with BEAT_BROKER, a drover:// broker URL
names both.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab, solar

import drover.celery  # noqa: F401 - registers the drover:// transport where it is built

queue = os.environ.get("BEAT_QUEUE", "beat")

# BEAT_BROKER (a drover:// URL) instead: the hub and its token come from the broker URL.
app = Celery("beatapp", broker=os.environ.get("BEAT_BROKER") or "memory://")
app.conf.update(
    timezone="Europe/Paris",
    drover_beat_url=None if os.environ.get("BEAT_BROKER") else os.environ.get("DROVER_URL"),
    drover_beat_token=None if os.environ.get("BEAT_BROKER") else os.environ.get("DROVER_TOKEN"),
    drover_beat_prefix=os.environ.get("BEAT_PREFIX", "celery"),
)
if os.environ.get("BEAT_SCHEDULER_IN_CONFIG"):
    app.conf.beat_scheduler = "drover.celery.beat:Scheduler"

ENTRIES: dict[str, dict[str, Any]] = {
    "every": {"task": "tests.beat.tick", "schedule": timedelta(seconds=2), "args": (1, 2), "kwargs": {"x": "y"}, "options": {"queue": f"{queue}@cn", "priority": 2}},
    "cron": {"task": "tests.beat.report", "schedule": crontab(minute="*/15", hour="8-17", day_of_week="mon-fri"), "options": {"queue": queue, "expires": 60}},
    "extra": {"task": "tests.beat.extra", "schedule": 3600.0, "options": {"queue": queue}},
    "sunset": {"task": "tests.beat.lights", "schedule": solar("sunset", 48.85, 2.35)},
}
app.conf.beat_schedule = {name: ENTRIES[name] for name in os.environ.get("BEAT_ENTRIES", "every").split(",")}


@app.task(name="tests.beat.tick")  # type: ignore[misc]
def tick(a: int, b: int, x: str | None = None) -> int:
    """The every entry's task, for a Celery worker over drover's transport: notes each run in BEAT_RUNS."""
    with open(os.environ["BEAT_RUNS"], "a") as runs:
        runs.write(f"{tick.request.id} {a} {b} {x}\n")
    return a + b
