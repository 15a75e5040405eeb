"""One HTTP call to the hub with its token, over the standard library: JSON in, JSON out, errors raised."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from .errors import Unavailable, error_for


class Hub:
    """The hub's base URL and a token; call() is every request the package makes."""

    def __init__(self, url: str, token: str, timeout: float = 75.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        # Above the longest the hub holds a request (a task wait of 60 s, a claim of 30 s).
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"authorization": f"Bearer {self.token}", "accept": "application/json"}
        if data is not None:
            headers["content-type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as res:
                text = res.read()
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                e = json.loads(raw)["error"]
            except (ValueError, KeyError, TypeError):
                e = {}
            raise error_for(err.code, e.get("code", "unavailable"), e.get("message", f"the hub answered {err.code}"), e.get("details")) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise Unavailable(0, "unavailable", f"cannot reach the hub at {self.url}: {reason}") from None
        return json.loads(text) if text else None
