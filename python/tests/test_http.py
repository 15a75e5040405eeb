"""The package's HTTP client (drover._http.Hub) against a small local server: calls share one kept-alive
connection per thread, and a connection the server dropped while idle is replaced without an error."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from drover._http import Hub
from drover.errors import InvalidRequest


class Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    # Close each connection after its answer without saying so, as an idle timeout would.
    drop_after_answer = False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"] or 0))
        if self.path == "/bad":
            answer = json.dumps({"error": {"code": "invalid_request", "message": "no"}}).encode()
            self.send_response(400)
        else:
            answer = json.dumps({"echo": json.loads(body), "auth": self.headers["authorization"]}).encode()
            self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.close_connection = self.server.drop_after_answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    yield s
    s.shutdown()
    s.server_close()


def test_calls_of_one_thread_share_one_connection(server: Server) -> None:
    hub = Hub(f"http://127.0.0.1:{server.server_address[1]}", "t0ken")
    for n in range(5):
        assert hub.call("POST", "/echo", {"n": n}) == {"echo": {"n": n}, "auth": "Bearer t0ken"}
    with pytest.raises(InvalidRequest):
        hub.call("POST", "/bad", {})
    assert hub.call("POST", "/echo", {"after": "an error"})["echo"] == {"after": "an error"}
    assert server.connections == 1
    other = threading.Thread(target=lambda: hub.call("POST", "/echo", {}))
    other.start()
    other.join()
    assert server.connections == 2  # a thread of its own, a connection of its own


def test_a_connection_dropped_while_idle_is_replaced(server: Server) -> None:
    server.drop_after_answer = True
    hub = Hub(f"http://127.0.0.1:{server.server_address[1]}", "t0ken")
    for n in range(3):
        time.sleep(0.05)  # the server has closed the last connection by now
        assert hub.call("POST", "/echo", {"n": n})["echo"] == {"n": n}
    assert server.connections == 3
