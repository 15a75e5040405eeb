"""The hub a Celery app's broker URL names: `drover://:TOKEN@host:port` (http) or `droverss://` (https);
the token may come from `broker_transport_options={"token": ...}` instead of the URL."""
from __future__ import annotations

import os
import threading
from typing import Any

from .._http import Hub

SECURE = ("droverss",)
_hubs: dict[tuple[int, str, str], Hub] = {}
_lock = threading.Lock()


def hub_for(connection: Any) -> Hub:
    """The Hub of a kombu Connection (a transport's `client`, or `app.connection_for_read()`).

    One per process and address: a child process forked by the prefork pool makes its own, so no
    kept-alive socket is ever shared across a fork.
    """
    options = connection.transport_options or {}
    token = connection.password or options.get("token")
    if not token:
        raise ValueError("drover's broker needs a token: drover://:TOKEN@host:port, or broker_transport_options={'token': ...}")
    scheme = "https" if str(connection.transport_cls) in SECURE else "http"
    host = connection.hostname or "127.0.0.1"
    # No port: npm start's 8787 over http, the https default over https.
    port = f":{connection.port}" if connection.port else (":8787" if scheme == "http" else "")
    url = f"{scheme}://{host}{port}"
    key = (os.getpid(), url, token)
    with _lock:
        hub = _hubs.get(key)
        if hub is None:
            hub = _hubs[key] = Hub(url, token)
        return hub


def hub_of_app(app: Any) -> Hub:
    """The hub of the app's broker, where a task's lease lives (from inside a task or a signal)."""
    return hub_for(app.connection_for_read())
