"""`python -m drover worker -A myapp.tasks -Q scrape -r cn -c 8`: the worker's command line, Celery's flags."""
from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from types import FrameType

from .loading import load_app
from .worker import Settings, Worker
from .worker_log import LEVELS, WorkerLog

QUEUE = re.compile(r"^[a-z0-9_-]{1,64}$")
REGION = re.compile(r"^[a-z0-9-]{1,32}$")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m drover", description="drover for Python")
    commands = top.add_subparsers(dest="command", required=True)
    w = commands.add_parser("worker", help="claim and run tasks of a Drover app", description="Claims tasks of the app's queues and runs them.")
    w.add_argument("-A", "--app", required=True, help="the module of the tasks: module (its `app`) or module:attribute")
    w.add_argument("-Q", "--queues", default="default", help="queues to claim from, comma-separated, first first (default: default)")
    w.add_argument("-r", "--region", default=None, help="claim tasks of this region and untagged ones (default: untagged only)")
    w.add_argument("-c", "--concurrency", type=int, default=4, help="tasks run at once, 1-1000 (default 4)")
    w.add_argument("-P", "--pool", choices=("threads", "prefork"), default="threads", help="threads of this process, or child processes (default threads)")
    w.add_argument("-n", "--name", default=None, help="the worker's name on its tasks (default <queue>-<region or any>-<pid>)")
    w.add_argument("-l", "--loglevel", type=str.lower, choices=LEVELS, default="info")
    w.add_argument("--json", action="store_true", help="one JSON object per log line")
    w.add_argument("--grace", type=float, default=30.0, help="seconds running tasks get to finish after the first SIGTERM (default 30)")
    w.add_argument("--wait", type=float, default=5.0, help="seconds one claim waits for work, 0-30 (default 5)")
    w.add_argument("--url", default=os.environ.get("DROVER_URL"), help="the hub (default $DROVER_URL)")
    w.add_argument("--token", default=os.environ.get("DROVER_TOKEN"), help="a token with consume, or consume@region (default $DROVER_TOKEN)")
    return top


def worker(args: argparse.Namespace) -> int:
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    problems = [f"bad queue name {q!r}: [a-z0-9_-], 1-64 characters" for q in queues if not QUEUE.match(q)]
    if not queues:
        problems.append("-Q needs at least one queue")
    if args.region is not None and not REGION.match(args.region):
        problems.append(f"bad region {args.region!r}: [a-z0-9-], 1-32 characters")
    if not 1 <= args.concurrency <= 1000:
        problems.append("-c must be 1-1000")
    if not 0 <= args.wait <= 30:
        problems.append("--wait must be 0-30")
    if not args.url or not args.token:
        problems.append("the hub and a token are needed: --url and --token, or DROVER_URL and DROVER_TOKEN")
    if problems:
        print("\n".join(f"python -m drover worker: {p}" for p in problems), file=sys.stderr)
        return 1
    # The app's own Drover may have been made without a hub: the worker's flags say where it is.
    os.environ.setdefault("DROVER_URL", args.url)
    os.environ.setdefault("DROVER_TOKEN", args.token)
    try:
        app = load_app(args.app)
    except (ImportError, LookupError) as err:
        print(f"python -m drover worker: cannot load -A {args.app}: {err}", file=sys.stderr)
        return 1
    app.hub.url, app.hub.token = args.url.rstrip("/"), args.token
    if not app.tasks:
        print(f"python -m drover worker: {args.app} registers no tasks", file=sys.stderr)
        return 1
    name = args.name or f"{queues[0]}-{args.region or 'any'}-{os.getpid()}"
    log = WorkerLog(name, args.loglevel, args.json)
    settings = Settings(spec=args.app, queues=queues, region=args.region, concurrency=args.concurrency, pool=args.pool, name=name, grace=args.grace, wait_seconds=args.wait)
    w = Worker(app, settings, log)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # First signal: warm shutdown. Second: cold.
        if w.stopping.is_set() and w.refused is None:
            w.cold.set()
        w.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return w.run()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return worker(args)


if __name__ == "__main__":
    sys.exit(main())
