"""Where a task runs: a thread of this process, or a child process (`--pool prefork`) that can be killed.

Both take an attempt, run it with drover.execute in the background and hand its outcome to `done`.
A thread cannot be stopped from outside: on revoke or a time limit its request is flagged and it
runs on, holding its slot until it returns. A child process is killed and replaced.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue
import signal
import sys
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Callable

from .app import Drover
from .execute import Outcome, execute
from .request import Request

Done = Callable[[Outcome], None]

# The outcome of an attempt whose process was killed (revoked, over its time limit) or died.
KILLED: Outcome = {"kind": "killed"}


class ThreadPool:
    """Daemon threads that each run one attempt at a time, kept between attempts (starting a thread
    costs more than a no-op task); one more starts whenever none is idle, so the worker's slots are
    the bound. Daemons: a task stuck past a cold shutdown does not hold the exit."""

    kills = False

    def __init__(self, app: Drover) -> None:
        self.app = app
        self.attempts: queue.SimpleQueue[tuple[Request, Done]] = queue.SimpleQueue()
        self.idle = 0
        self.lock = threading.Lock()

    def run(self, request: Request, done: Done) -> None:
        with self.lock:
            start = self.idle == 0
            if not start:
                self.idle -= 1
        self.attempts.put((request, done))
        if start:
            threading.Thread(target=self.serve, name="task", daemon=True).start()

    def serve(self) -> None:
        while True:
            request, done = self.attempts.get()
            done(execute(self.app.tasks.get(request.task), request))
            with self.lock:
                self.idle += 1

    def stop(self, request: Request) -> None:
        request.aborted.set()

    def resize(self, size: int) -> None:
        pass  # threads start as attempts need them: the worker's slots are the bound

    def close(self) -> None:
        pass


def child_main(spec: str, conn: Connection) -> None:
    """A child process: imports the app, then runs the attempts the parent sends, one at a time."""
    # The parent decides when to stop (warm, then cold); a signal to the whole group is its to read.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent()
    from .loading import load_app

    app = load_app(spec)
    conn.send("ready")
    while True:
        try:
            fields = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        request = Request(**fields)
        outcome = execute(app.tasks.get(request.task), request)
        try:
            conn.send(outcome)
        except (OSError, ValueError):
            return


def die_with_parent() -> None:
    """On Linux, the kernel kills this child when the worker dies (SIGKILL included): a task left
    running would otherwise run on beside the attempt the hub hands to another worker."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:
        os._exit(0)  # the worker died before the call: nothing to run for


class Child:
    def __init__(self, spec: str) -> None:
        context = multiprocessing.get_context("spawn")  # not fork: the parent has threads
        self.conn, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(target=child_main, args=(spec, theirs), daemon=True, name="drover-child")
        self.process.start()
        theirs.close()
        self.request: Request | None = None


class PreforkPool:
    """`size` child processes, each running one attempt at a time; a killed child is replaced."""

    kills = True

    def __init__(self, spec: str, size: int) -> None:
        self.spec = spec
        self.idle: queue.SimpleQueue[Child] = queue.SimpleQueue()
        self.children: list[Child] = []
        self.lock = threading.Lock()
        self.closed = False
        for _ in range(size):
            self.idle.put(self.spawn())
        for child in self.children:
            # Each child says "ready" once it has imported the app: a module that fails to import fails here.
            if not child.conn.poll(120) or child.conn.recv() != "ready":
                raise RuntimeError(f"a child process could not load {spec}")

    def spawn(self) -> Child:
        child = Child(self.spec)
        with self.lock:
            self.children.append(child)
        return child

    def run(self, request: Request, done: Done) -> None:
        def attempt() -> None:
            child = self.idle.get()
            child.request = request
            outcome: Any = KILLED
            try:
                child.conn.send(request.plain())
                outcome = child.conn.recv()
            except (EOFError, OSError):
                pass
            child.request = None
            if outcome is KILLED or not child.process.is_alive():
                self.retire(child)
                done(outcome)  # reported first: a new child takes a moment to start
                after = self.replacement()
                if after is not None:
                    self.idle.put(after)
                return
            self.idle.put(child)
            done(outcome)

        threading.Thread(target=attempt, name=f"task-{request.id}", daemon=True).start()

    def replacement(self) -> Child | None:
        if self.closed:
            return None
        child = self.spawn()
        if child.conn.poll(120):
            child.conn.recv()
        return child

    def retire(self, child: Child) -> None:
        if child.process.is_alive():
            child.process.kill()
        child.process.join(5)
        child.conn.close()
        with self.lock:
            if child in self.children:
                self.children.remove(child)

    def stop(self, request: Request) -> None:
        """Kills the child running this attempt (its thread then hands on KILLED and a new child)."""
        request.aborted.set()
        with self.lock:
            running = [c for c in self.children if c.request is request]
        for child in running:
            child.process.kill()

    def resize(self, size: int) -> None:
        """Starts children up to `size` (in the background: each takes a moment to import the app).
        Fewer slots leave the extra children idle."""

        def grow() -> None:
            with self.lock:
                missing = size - len(self.children)
            for _ in range(missing):
                child = self.replacement()
                if child is not None:
                    self.idle.put(child)

        threading.Thread(target=grow, name="grow", daemon=True).start()

    def close(self) -> None:
        self.closed = True
        with self.lock:
            children = list(self.children)
        for child in children:
            child.process.kill()
