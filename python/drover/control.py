"""The worker's heartbeat to the hub (POST /v1/workers/:name/heartbeat): what it runs, out; remote
control commands (ping, shutdown, grow, shrink, rate-limit, cancel-consumer, run), in; their replies, out on the next."""
from __future__ import annotations

import threading
import urllib.parse
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from .errors import DroverError, Forbidden, NotFound, Unauthorized
from .execute import error_of

if TYPE_CHECKING:
    from .worker import Worker

# docs/protocol.md: the hub holds a heartbeat up to 30 s; remember at least the last 1,000 command ids.
WAIT_SECONDS = 25.0
REMEMBERED = 1000
MAX_SLOTS = 1000


class Control:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.done: OrderedDict[str, dict[str, Any]] = OrderedDict()  # command id -> its reply
        self.replies: list[dict[str, Any]] = []
        self.stopped = threading.Event()
        self.asked_to_stop = False

    def body(self, leaving: bool) -> dict[str, Any]:
        w = self.worker
        with w.cond:
            active = [
                {"id": a.request.id, "task": a.request.task, "queue": a.request.queue, "startedAt": a.started_at}
                for a in w.active.values()
                if not a.finished
            ]
            counts = dict(w.counts)
        return {
            "region": w.settings.region,
            "queues": list(w.settings.queues),
            "tasks": sorted(w.app.tasks)[:1000],
            "concurrency": w.concurrency,
            "active": active,
            "processed": counts["succeeded"] + counts["failed"] + counts["retried"],
            "failed": counts["failed"],
            "waitSeconds": 0 if self.replies or leaving or w.stopping.is_set() else WAIT_SECONDS,
            "replies": self.replies[:100],
            "leaving": leaving,
        }

    def send(self, leaving: bool = False) -> list[dict[str, Any]]:
        path = f"/v1/workers/{urllib.parse.quote(self.worker.name, safe='')}/heartbeat"
        answer = self.worker.hub.call("POST", path, self.body(leaving), timeout=WAIT_SECONDS + 30)
        del self.replies[:100]
        commands: list[dict[str, Any]] = answer.get("commands", [])
        return commands

    def loop(self) -> None:
        """One heartbeat in flight at a time, until the worker stops; errors wait and try again."""
        w = self.worker
        pause = 0.0
        while not w.stopping.is_set():
            try:
                commands = self.send()
                pause = 0.0
            except (Unauthorized, Forbidden, NotFound) as err:
                # The claims report a refused token; a hub without the route simply lists no heartbeats.
                w.log.message(f"worker heartbeats stop: {err}", "debug")
                break
            except DroverError as err:
                pause = min(30.0, pause * 2 if pause else 1.0)
                w.log.message(f"worker heartbeat failed ({err}); trying again in {pause:g}s", "debug")
                w.stopping.wait(pause)
                continue
            for command in commands:
                self.answer(command)
        self.stopped.set()

    def leave(self) -> None:
        """The last heartbeat: replies still owed (a shutdown's among them), and `leaving`."""
        # A heartbeat still held at the hub ends when this one arrives; after a shutdown command,
        # a moment for the loop to file its reply.
        if self.asked_to_stop:
            self.stopped.wait(1.0)
        try:
            self.send(leaving=True)
        except DroverError:
            pass

    def answer(self, command: dict[str, Any]) -> None:
        cid = str(command["id"])
        if cid not in self.done:
            self.done[cid] = {"id": cid, **self.run(command["command"], command.get("args") or {})}
            while len(self.done) > REMEMBERED:
                self.done.popitem(last=False)
        self.replies.append(self.done[cid])

    def run(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        w = self.worker
        if command == "ping":
            return {"ok": True, "reply": "pong"}
        if command == "shutdown":
            w.log.message("shutdown asked by remote control", "warning")
            self.asked_to_stop = True
            w.stopping.set()
            return {"ok": True, "reply": {"stopping": True}}
        if command in ("grow", "shrink"):
            n = int(args.get("n", 1))
            with w.cond:
                w.concurrency = min(MAX_SLOTS, w.concurrency + n) if command == "grow" else max(1, w.concurrency - n)
                w.cond.notify_all()
            w.pool.resize(w.concurrency)
            w.log.message(f"{command} by remote control: {w.concurrency} slot(s)")
            return {"ok": True, "reply": {"concurrency": w.concurrency}}
        if command == "cancel-consumer":
            queue = args.get("queue")
            if queue not in w.settings.queues:
                return {"ok": False, "error": {"type": "NotConsuming", "message": f"this worker does not claim from {queue!r}"}}
            if len(w.settings.queues) == 1:
                return {"ok": False, "error": {"type": "LastQueue", "message": f"{queue!r} is this worker's only queue: shut it down instead"}}
            w.settings.queues = [q for q in w.settings.queues if q != queue]
            return {"ok": True, "reply": {"queues": list(w.settings.queues)}}
        if command == "run":
            task = w.app.tasks.get(str(args.get("task")))
            if task is None:
                return {"ok": False, "error": {"type": "NotRegistered", "message": f"this worker has no task {args.get('task')!r}"}}
            try:
                return {"ok": True, "reply": task(*(args.get("args") or []), **(args.get("kwargs") or {}))}
            except Exception as exc:  # noqa: BLE001 - a broadcast's failure is its reply
                error = error_of(exc)
                return {"ok": False, "error": {"type": error["type"], "message": error["message"]}}
        if command == "rate-limit":
            task, rate = args.get("task"), args.get("rate")
            if not isinstance(task, str) or not (rate is None or isinstance(rate, str)):
                return {"ok": False, "error": {"type": "InvalidArgs", "message": 'rate-limit takes {"task": name, "rate": "N/s" | "N/m" | "N/h" | null}'}}
            if task not in w.app.tasks:
                return {"ok": False, "error": {"type": "NotRegistered", "message": f"task {task!r} is not registered on this worker"}}
            if not w.rates.set(task, rate):
                return {"ok": False, "error": {"type": "InvalidArgs", "message": f"rate {rate!r} is not N/s, N/m or N/h"}}
            with w.cond:
                w.cond.notify_all()  # a claim loop waiting for a limit to open looks again
            w.log.message(f"rate-limit by remote control: {task} starts at most {rate}" if rate else f"rate-limit by remote control: no limit on {task}")
            return {"ok": True, "reply": {"task": task, "rate": rate}}
        return {"ok": False, "error": {"type": "UnknownCommand", "message": f"this worker does not know the command {command!r}"}}
