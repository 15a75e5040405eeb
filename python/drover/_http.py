"""One HTTP call to the hub with its token, over the standard library: JSON in, JSON out, errors raised.

Each thread keeps one connection to the hub open and sends its calls over it (HTTP/1.1 keep-alive),
so a call costs a request and not a TCP handshake besides. A thread has one request in flight at a
time, so no answer is ever waited for behind another's.
"""
from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from typing import Any

from .errors import Unavailable, error_for

# A connection the hub (or anything between) closed while it sat idle fails on its next request
# before the hub has read it: these are sent again once, on a fresh connection.
STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class Hub:
    """The hub's base URL and a token; call() is every request the package makes."""

    def __init__(self, url: str, token: str, timeout: float = 75.0) -> None:
        self.token = token
        # Above the longest the hub holds a request (a task wait of 60 s, a claim of 30 s).
        self.timeout = timeout
        self._local = threading.local()
        self.url = url

    @property
    def url(self) -> str:
        return self._url

    @url.setter
    def url(self, url: str) -> None:
        # The worker's --url may replace the app's: every thread's connection is then to the new one.
        self._url = url.rstrip("/")
        parts = urllib.parse.urlsplit(self._url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._prefix = parts.path
        self._generation = getattr(self, "_generation", 0) + 1

    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection (made if need be) with `timeout`; and whether it was used before."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.generation != self._generation:
            conn.close()
            conn = None
        if conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = kind(self._host, self._port, timeout=timeout)
            self._local.conn, self._local.generation = conn, self._generation
            return conn, False
        conn.timeout = timeout
        if conn.sock is None:
            return conn, False
        conn.sock.settimeout(timeout)
        return conn, True

    def close(self) -> None:
        """Closes this thread's connection (the next call opens another)."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"authorization": f"Bearer {self.token}", "accept": "application/json"}
        if data is not None:
            headers["content-type"] = "application/json"
        for attempt in (1, 2):
            conn, reused = self._connection(timeout or self.timeout)
            try:
                conn.request(method, self._prefix + path, body=data, headers=headers)
                res = conn.getresponse()
                text = res.read()
                status = res.status
                break
            except STALE as err:
                conn.close()
                if reused and attempt == 1:
                    continue
                raise Unavailable(0, "unavailable", f"cannot reach the hub at {self.url}: {err or type(err).__name__}") from None
            except (OSError, http.client.HTTPException) as err:
                # Timed out, refused, or an answer that is not HTTP: this connection is done with.
                conn.close()
                raise Unavailable(0, "unavailable", f"cannot reach the hub at {self.url}: {err or type(err).__name__}") from None
        # A response that says it closes the connection (the hub does so after a refused body it
        # would not read whole: 64 MiB or 10 s) has closed it; the next call opens another.
        if status >= 400:
            try:
                e = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                e = {}
            raise error_for(status, e.get("code", "unavailable"), e.get("message", f"the hub answered {status}"), e.get("details"))
        return json.loads(text) if text else None
