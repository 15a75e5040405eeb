"""Rate keys from Python, against a stand-in hub that records what it is sent (no npm start): a task
that raises RateLimited(retry_after=2) fails its attempt as rate limited, the hub's own 429 stays an
error, and rate_key (a string or a callable of the args) reaches the enqueue body, apply_async's winning."""
from __future__ import annotations

import json
import tempfile
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import pytest

from drover import Drover, RateLimited
from drover.errors import error_for

from .conftest import PYTHON, ROOT, Process, wait_for


class StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.jobs: list[dict[str, Any]] = []
        self.fails: dict[str, dict[str, Any]] = {}
        self.enqueued: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandIn

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["content-length"] or 0)) or b"{}")
        path = self.path
        with self.server.lock:
            if path.endswith("/claim"):
                jobs, self.server.jobs = self.server.jobs[: body.get("max", 1)], self.server.jobs[body.get("max", 1) :]
                answer: Any = {"jobs": jobs}
            elif path.endswith("/fail"):
                self.server.fails[path.split("/")[3]] = body
                answer = {"state": "delayed", "nextAttemptAt": datetime.now(timezone.utc).isoformat()} if body.get("rateLimited") else {"state": "failed"}
            elif path == "/v1/tasks":
                self.server.enqueued.append(body)
                answer = {"id": f"t{len(self.server.enqueued)}", "state": "queued"}
            elif path == "/v1/tasks/batch":
                self.server.enqueued.extend(body["tasks"])
                answer = {"tasks": [{"id": f"b{i}", "state": "queued"} for i, _ in enumerate(body["tasks"])]}
            elif "/workers/" in path:
                answer = {"commands": [], "intervalSeconds": 10}
            elif path == "/v1/leases/ack":
                answer = {"results": [{"leaseId": a["leaseId"], "state": "succeeded"} for a in body["acks"]]}
            else:
                answer = {"state": "queued", "leaseExpiresAt": (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat(), "revoked": False}
        data = json.dumps(answer).encode()
        self.send_response(202 if path.startswith("/v1/tasks") else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[StandIn]:
    s = StandIn()
    threading.Thread(target=s.serve_forever, daemon=True).start()
    yield s
    s.shutdown()
    s.server_close()


def job(id: str, task: str, args: list[Any]) -> dict[str, Any]:  # noqa: A002
    expires = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    return {"id": id, "task": task, "args": args, "kwargs": {}, "queue": "q", "region": None, "priority": 0, "maxRetries": 0, "leaseId": f"lease-{id}", "attempt": 1, "leaseExpiresAt": expires}


def test_raised_by_a_task_it_fails_the_attempt_as_rate_limited_and_the_hubs_429_does_not(hub: StandIn) -> None:
    hub.jobs = [job("j1", "keys.turned_away", [2]), job("j2", "keys.turned_away", [None]), job("j3", "keys.hub_refused", [])]
    log = Path(tempfile.mkdtemp(prefix="drover-keys-")) / "worker.log"
    args = [PYTHON, "-m", "drover", "worker", "-A", "tests.keytasks", "-Q", "q", "--url", hub.url, "--token", "t", "--wait", "0.1", "-n", f"keys-{uuid.uuid4().hex[:6]}"]
    worker = Process(args, {"PYTHONPATH": str(ROOT / "python")}, log)
    try:
        wait_for(lambda: len(hub.fails) == 3 or worker.proc.poll() is not None, 30, "three fails")
        assert len(hub.fails) == 3, worker.output()
        assert hub.fails["lease-j1"]["rateLimited"] is True
        assert hub.fails["lease-j1"]["delaySeconds"] == 2
        assert hub.fails["lease-j1"]["error"]["type"] == "RateLimited"
        assert hub.fails["lease-j1"]["error"]["message"] == "429 from api.example.com"
        # No retry_after: the hub's 1 s, so no delaySeconds.
        assert hub.fails["lease-j2"]["rateLimited"] is True
        assert "delaySeconds" not in hub.fails["lease-j2"]
        assert "rateLimited" not in hub.fails["lease-j3"]
        assert hub.fails["lease-j3"]["error"]["type"] == "RateLimited"
        wait_for(lambda: "retry: Retry in 2s" in worker.output(), 10, "the worker logs the rate-limited retry")
    finally:
        worker.stop()


def test_the_exception_keeps_both_forms() -> None:
    from_hub = error_for(429, "rate_limited", "slow down", {"retryAfter": 3})
    assert isinstance(from_hub, RateLimited)
    assert (from_hub.status, from_hub.code, from_hub.message, from_hub.details) == (429, "rate_limited", "slow down", {"retryAfter": 3})
    assert str(from_hub) == "429 rate_limited: slow down"
    assert from_hub.raised_by_task is False
    assert RateLimited(retry_after=2).retry_after == 2
    assert str(RateLimited(retry_after=2.5)) == "rate limited; retry after 2.5s"
    assert RateLimited().retry_after is None
    assert RateLimited().raised_by_task is True
    with pytest.raises(TypeError, match="keyword-only"):
        RateLimited("429", 2)
    for bad in (-1, float("nan"), "2", True):
        with pytest.raises(ValueError, match="retry_after must be seconds"):
            RateLimited(retry_after=bad)


def test_rate_key_reaches_the_enqueue_body_and_apply_async_wins(hub: StandIn) -> None:
    app = Drover(hub.url, "t")

    @app.task(name="keys.page", queue="scrape", rate_key=lambda url, **kw: urlparse(url).netloc.lower())
    def page(url: str, **kw: Any) -> str:
        return url

    @app.task(name="keys.api", rate_key="api.example.com")
    def api() -> None:
        return None

    page.delay("https://Shop.example.com:8443/a")
    page.apply_async(["https://shop.example.com/"], rate_key="mine")
    api.delay()
    app.send_task("keys.named", rate_key="named")
    app.send_many([page.s("https://one.example.com/"), page.s("https://two.example.com/").set(rate_key="other")])
    keys = [b.get("rateKey", "absent") for b in hub.enqueued]
    assert keys == ["shop.example.com:8443", "mine", "api.example.com", "named", "one.example.com", "other"]
    assert hub.enqueued[0] == {"task": "keys.page", "args": ["https://Shop.example.com:8443/a"], "kwargs": {}, "queue": "scrape", "rateKey": "shop.example.com:8443"}
    with pytest.raises(TypeError, match="rate_key must be a string or a callable"):
        app.task(rate_key=42)(lambda: None)
