"""Acks sent in batches by one POST /v1/leases/ack (at most 100 a call). A batch waits for the tasks
still running (up to a few ms) and no longer: fast tasks claimed together are acked together in
one call, and the last task of a batch, or a lone one, is acked at once."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from ._http import Hub
from .errors import DroverError
from .worker_log import WorkerLog

# docs/protocol.md: an ack of many takes 1 to 100 entries.
BATCH = 100
GATHER_SECONDS = 0.005

Answer = Callable[[str | None], None]


class AckBatcher:
    """Each lease is acked once: an entry leaves `pending` when its batch is sent, whatever the answer."""

    def __init__(self, hub: Hub, log: WorkerLog, running: Callable[[], int]) -> None:
        self.hub = hub
        self.log = log
        self.running = running  # tasks whose outcome may join the batch soon
        self.pending: list[tuple[str, Any, Answer]] = []
        self.sending = 0
        self.cond = threading.Condition()
        threading.Thread(target=self.loop, name="acks", daemon=True).start()

    def add(self, lease_id: str, result: Any, answer: Answer) -> None:
        """`answer` gets the hub's state for the lease (succeeded or revoked), or None if the ack failed."""
        with self.cond:
            self.pending.append((lease_id, result, answer))
            self.cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Waits until every ack added so far was sent; False if `timeout` passed first."""
        with self.cond:
            return self.cond.wait_for(lambda: not self.pending and not self.sending, timeout)

    def loop(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: bool(self.pending))
                # add() notifies: each task that ends wakes this to look again.
                gather = time.monotonic() + GATHER_SECONDS
                while len(self.pending) < BATCH and self.running() > 0 and (left := gather - time.monotonic()) > 0:
                    self.cond.wait(left)
                batch = self.pending[:BATCH]
                del self.pending[:BATCH]
                self.sending = len(batch)
            states = self.send(batch)
            for (_, _, answer), state in zip(batch, states):
                answer(state)
            with self.cond:
                self.sending = 0
                self.cond.notify_all()

    def send(self, batch: list[tuple[str, Any, Answer]]) -> list[str | None]:
        body = {"acks": [{"leaseId": lease, "result": result} for lease, result, _ in batch]}
        for attempt in range(1, 7):
            try:
                answer = self.hub.call("POST", "/v1/leases/ack", body)
            except DroverError as err:
                if 0 < err.status < 500 or attempt == 6:
                    self.log.message(f"could not ack {len(batch)} job(s): {err}; their leases will expire and they will run again", "error")
                    return [None] * len(batch)
                time.sleep(0.25 * 2**attempt)
                continue
            states: list[str | None] = []
            for entry in answer["results"]:
                if "error" in entry:
                    self.log.message(f"ack of {entry['leaseId']} refused: {entry['error']['message']}", "warning")
                states.append(entry.get("state"))
            return states
        return [None] * len(batch)
