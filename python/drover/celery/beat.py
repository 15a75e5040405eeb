"""Celery beat whose schedule lives in drover's hub: `celery -A app beat -S drover.celery.beat:Scheduler`.

Each entry of `beat_schedule` becomes a hub schedule (docs/protocol.md, "Schedules (beat)") with the
id `celery.<entry name>`, and the HUB fires its slots: each due slot enqueues exactly one task (the
slot's idempotency key), however many beat processes run, and a beat process that dies loses
nothing. This scheduler only keeps the hub's schedules equal to the app's config: at start, then
every `beat_max_loop_interval`. It sends no task itself.

Where the hub is: `drover_beat_url` and `drover_beat_token` in the app's config, else the broker URL
`drover://:TOKEN@host:port` (`droverss://` for https; the token may be in
`broker_transport_options["token"]`). The token needs the admin scope. `drover_beat_prefix` (default
`celery`) names the ids this app's beat owns: `<prefix>.` schedules no longer in the config are
deleted, all others are never touched.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.parse
from typing import Any

from celery.beat import BeatLazyFunc, SchedulingError
from celery.beat import Scheduler as CeleryScheduler
from celery.schedules import crontab, schedule
from celery.utils.log import get_logger

from .._http import Hub
from ..errors import Conflict, DroverError, InvalidRequest, NotFound, PayloadTooLarge, Unavailable

logger = get_logger(__name__)

SCHEDULE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
PREFIX = re.compile(r"[A-Za-z0-9_:-]{1,40}")
# docs/protocol.md: `every` is 1-31,536,000 s.
EVERY_MIN, EVERY_MAX = 1.0, 31_536_000.0
# Celery decides retries itself (task.retry); the transport enqueues Celery's tasks with the same bound.
MAX_RETRIES = 100
# The fields the hub keeps that the config decides. `enabled` is not one of them: an operator may pause
# a schedule in the hub and beat leaves it paused.
COMPARED = ("cron", "every", "timezone", "task", "args", "kwargs", "queue", "region", "priority", "maxRetries", "retryDelay", "timeout", "catchUp")
DEFAULTS = {"region": None, "priority": 5, "maxRetries": MAX_RETRIES, "retryDelay": 1, "timeout": 60, "catchUp": "latest"}
CARRIED_OPTIONS = ("queue", "priority")


class ScheduleRefused(SchedulingError):  # type: ignore[misc]
    """A beat_schedule entry (or a setting) the hub cannot run as Celery would: beat stops at start."""


def schedule_id(prefix: str, name: str) -> str:
    """`<prefix>.<name>` when that is a valid id; else the name made safe plus a hash of it, so two
    names never share an id."""
    plain = f"{prefix}.{name}"
    if SCHEDULE_ID.fullmatch(plain):
        return plain
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    safe = re.sub(r"[^A-Za-z0-9_.:-]", "_", name)[: 100 - len(prefix) - 12]
    return f"{prefix}.{safe}-{digest}"


def _ranges(values: set[int], low: int, high: int) -> str:
    """A cron field from Celery's expanded set: `*` for all, else runs as `a-b`, joined by commas."""
    if values == set(range(low, high + 1)):
        return "*"
    runs: list[list[int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def cron_of(name: str, c: Any) -> str:
    """The five-field cron of a Celery crontab, from the sets Celery expanded (so `*/15`, `mon-fri`,
    lists and sets all come out in plain cron)."""
    if c._orig_day_of_month != "*" and c._orig_day_of_week != "*":
        # Celery runs a day that is in both (schedules.py, crontab's docstring); cron, and the hub, a
        # day in either.
        raise ScheduleRefused(
            f"beat_schedule entry {name!r}: a crontab restricting both day_of_month and day_of_week runs on days in both in Celery, "
            "but on days in either in cron (and in drover's hub); give one of them"
        )
    return " ".join(
        (_ranges(c.minute, 0, 59), _ranges(c.hour, 0, 23), _ranges(c.day_of_month, 1, 31), _ranges(c.month_of_year, 1, 12), _ranges(c.day_of_week, 0, 6))
    )


def timing_of(name: str, s: Any, zone: str | None) -> dict[str, Any]:
    """`every` or `cron` (with the zone) of an entry's schedule; anything else is refused."""
    if type(s) is schedule:
        every = s.run_every.total_seconds()
        if not EVERY_MIN <= every <= EVERY_MAX:
            raise ScheduleRefused(f"beat_schedule entry {name!r}: drover's hub runs every 1 to 31,536,000 seconds, not every {every:g}")
        return {"every": int(every) if every == int(every) else every, "timezone": zone or "UTC"}
    if type(s) is crontab:
        if zone is None:
            raise ScheduleRefused(f"beat_schedule entry {name!r}: a crontab needs the app's timezone setting when enable_utc is False")
        return {"cron": cron_of(name, s), "timezone": zone}
    raise ScheduleRefused(
        f"beat_schedule entry {name!r}: drover's hub runs schedule(run_every=...) and crontab(...) only, not {type(s).__name__}; "
        "use another scheduler for this entry's app, or one of those two"
    )


def definition(app: Any, name: str, entry: Any, sid: str, zone: str | None) -> tuple[dict[str, Any], list[str]]:
    """The hub schedule (POST /v1/schedules body) of a beat entry, and what of the entry it leaves out."""
    left_out: list[str] = []
    args, kwargs = list(entry.args or ()), dict(entry.kwargs or {})
    if any(isinstance(a, BeatLazyFunc) for a in [*args, *kwargs.values()]):
        raise ScheduleRefused(f"beat_schedule entry {name!r}: BeatLazyFunc arguments are evaluated at each send by Celery; the hub stores fixed arguments")
    try:
        args, kwargs = json.loads(json.dumps(args)), json.loads(json.dumps(kwargs))
    except (TypeError, ValueError) as err:
        raise ScheduleRefused(f"beat_schedule entry {name!r}: its arguments are not JSON ({err})") from None
    options = dict(entry.options or {})
    # The app's router, as apply_async would use it: task_routes and task_default_queue apply.
    routed = app.amqp.router.route({k: v for k, v in options.items() if k in CARRIED_OPTIONS}, entry.task, args, kwargs)
    queue_name = getattr(routed.get("queue"), "name", None) or str(routed.get("queue") or app.conf.task_default_queue)
    queue, _, region = queue_name.partition("@")
    body: dict[str, Any] = {"id": sid, **timing_of(name, entry.schedule, zone), "task": entry.task, "args": args, "kwargs": kwargs, "queue": queue}
    body.update(DEFAULTS)
    body["region"] = region or None
    priority = routed.get("priority")
    if priority is not None:
        # Celery on Redis runs 0 first; drover runs 9 first (the transport maps priority the same way).
        body["priority"] = 9 - max(0, min(9, int(priority)))
    for key in options:
        if key not in CARRIED_OPTIONS:
            left_out.append("expires (a hub schedule has no expires field)" if key == "expires" else key)
    return body, left_out


def differences(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    """The fields of the hub's schedule that the config would change (`every` and `cron` absent are null)."""
    return [k for k in COMPARED if want.get(k) != have.get(k)]


def hub_of(app: Any) -> Hub:
    """The hub from `drover_beat_url`/`drover_beat_token`, else from the drover broker URL."""
    conf = app.conf
    broker = conf.broker_url
    broker = (broker[0] if isinstance(broker, (list, tuple)) else str(broker or "").split(";")[0]).strip()
    parts = urllib.parse.urlsplit(broker)
    from_broker = parts.scheme in ("drover", "droverss")
    url = conf.get("drover_beat_url")
    if not url and from_broker:
        url = f"{'https' if parts.scheme == 'droverss' else 'http'}://{parts.hostname or '127.0.0.1'}{f':{parts.port}' if parts.port else ''}"
    token = conf.get("drover_beat_token")
    if not token and from_broker:
        token = urllib.parse.unquote(parts.password or "") or (conf.broker_transport_options or {}).get("token")
    if not url or not token:
        raise ScheduleRefused(
            "drover's beat Scheduler needs the hub and an admin token: set drover_beat_url and drover_beat_token, "
            "or use broker_url='drover://:TOKEN@host:port'"
        )
    return Hub(str(url), str(token), timeout=30.0)


class Scheduler(CeleryScheduler):  # type: ignore[misc]
    """Keeps the hub's schedules equal to `beat_schedule`; the hub fires them, so `tick` sends nothing."""

    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        self._hub: Hub | None = None
        self._last_sync_at: float | None = None
        self._seen: dict[str, tuple[Any, Any]] = {}
        self._names: dict[str, str] = {}
        super().__init__(app, *args, **kwargs)

    @property
    def prefix(self) -> str:
        prefix = str(self.app.conf.get("drover_beat_prefix") or "celery")
        if not PREFIX.fullmatch(prefix):
            raise ScheduleRefused(f"drover_beat_prefix {prefix!r} must be 1-40 characters of letters, digits and _ : -")
        return prefix

    @property
    def hub(self) -> Hub:
        if self._hub is None:
            self._hub = hub_of(self.app)
        return self._hub

    def setup_schedule(self) -> None:
        # PersistentScheduler's order (celery/beat.py): merging first would drop Celery's own entry.
        self.merge_inplace(self.app.conf.beat_schedule)
        self.install_default_entries(self.schedule)
        try:
            self.sync_hub(starting=True)
        except DroverError as err:
            if isinstance(err, Unavailable):
                # The hub keeps firing what it has; beat tries again after max_interval.
                self._last_sync_at = time.monotonic()
                logger.error("beat: could not sync with drover's hub at %s (%s): trying again in %ss", self.hub.url, err, self.max_interval)
                return
            raise ScheduleRefused(f"drover's hub at {self.hub.url} refused beat's schedules: {err}") from None

    def desired(self, starting: bool) -> dict[str, dict[str, Any]]:
        """The hub schedule of each entry, by id; refuses entries the hub cannot run, naming them."""
        conf = self.app.conf
        # enable_utc=False without a timezone is the machine's local time, which has no IANA name here.
        zone = str(conf.timezone) if conf.timezone else ("UTC" if conf.enable_utc else None)
        bodies: dict[str, dict[str, Any]] = {}
        names: dict[str, str] = {}
        for name, entry in self.schedule.items():
            sid = schedule_id(self.prefix, name)
            if sid in names:
                raise ScheduleRefused(f"beat_schedule entries {names[sid]!r} and {name!r} would share the hub schedule id {sid!r}")
            names[sid] = name
            self._names[sid] = name
            bodies[sid], left_out = definition(self.app, name, entry, sid, zone)
            # Celery's own cleanup entry asks for expires; it matters little for a daily cleanup.
            if starting and left_out and name != "celery.backend_cleanup":
                logger.warning("beat: entry %r: drover's hub does not carry %s: the hub's schedule runs without it", name, ", ".join(left_out))
        return bodies

    def sync_hub(self, starting: bool = False) -> None:
        """GET the hub's schedules, POST the new, PUT the changed (a PUT re-anchors an `every` schedule,
        so an equal one is left alone), DELETE ours no longer configured; then log what runs next."""
        want = self.desired(starting)
        have = {s["id"]: s for s in self.hub.call("GET", "/v1/schedules")["schedules"]}
        for sid, body in want.items():
            try:
                have[sid] = self._put_one(sid, body, have.get(sid))
            except (InvalidRequest, PayloadTooLarge) as err:
                raise ScheduleRefused(f"beat_schedule entry {self._names[sid]!r}: drover's hub refused it as {sid}: {err.message}") from None
        for sid, current in list(have.items()):
            if sid in want or not sid.startswith(self.prefix + ".") or current.get("source") == "code":
                continue
            try:
                self.hub.call("DELETE", f"/v1/schedules/{sid}")
                logger.info("beat: deleted hub schedule %s: no longer in beat_schedule", sid)
            except NotFound:
                pass  # another beat deleted it
            del have[sid]
        self._last_sync_at = time.monotonic()
        self._log_runs({sid: have[sid] for sid in want})

    def _put_one(self, sid: str, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """Makes or changes one hub schedule if it differs from `body`; returns the hub's schedule."""
        if current is None:
            try:
                current = self.hub.call("POST", "/v1/schedules", body)
                logger.info("beat: made hub schedule %s (%s)", sid, body["task"])
                return dict(current or {})
            except Conflict:
                # Another beat made it a moment ago: compare with theirs.
                current = self.hub.call("GET", f"/v1/schedules/{sid}")
        assert current is not None
        changing = differences(body, current)
        if not changing:
            return current
        if current.get("source") == "code":
            logger.warning("beat: hub schedule %s is declared in the hub's schedules.ts; beat leaves it as it is", sid)
            return current
        changed: dict[str, Any] = self.hub.call("PUT", f"/v1/schedules/{sid}", {**body, "enabled": current.get("enabled", True)})
        logger.info("beat: changed hub schedule %s (%s) to match beat_schedule: %s", sid, body["task"], ", ".join(changing))
        return changed

    def _log_runs(self, ours: dict[str, dict[str, Any]]) -> None:
        """The hub's sends since the last look, as beat logs its own, and when each runs next."""
        for sid, s in ours.items():
            seen = (s.get("lastTaskId"), s.get("nextRunAt"))
            before = self._seen.get(sid)
            if seen == before:
                continue
            if s.get("lastTaskId") and (before is None or before[0] != s.get("lastTaskId")):
                logger.info("Scheduler: Hub sent due task %s (%s) at %s id->%s", sid, s.get("task"), s.get("lastRunAt"), s.get("lastTaskId"))
            if before is None or before[1] != s.get("nextRunAt"):
                state = "" if s.get("enabled", True) else " (disabled in the hub)"
                logger.info("Scheduler: Hub runs %s (%s) next at %s%s", sid, s.get("task"), s.get("nextRunAt"), state)
            self._seen[sid] = seen

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Re-syncs once `max_interval` has passed since the last sync; returns how long to sleep."""
        since = None if self._last_sync_at is None else time.monotonic() - self._last_sync_at
        if since is None or since >= self.max_interval:
            try:
                self.sync_hub()
            except (DroverError, ScheduleRefused) as err:
                # Refused loudly at start; once running, the hub keeps firing what it has, so beat
                # says why it could not sync and tries again rather than stop.
                self._last_sync_at = time.monotonic()
                logger.error("beat: could not sync with drover's hub at %s (%s): trying again in %ss", self.hub.url, err, self.max_interval)
            return float(self.max_interval)
        return float(self.max_interval) - since

    @property
    def info(self) -> str:
        try:
            return f"    . hub -> {self.hub.url} (schedules {self.prefix}.*)"
        except ScheduleRefused as err:
            return f"    . hub -> not set: {err}"
