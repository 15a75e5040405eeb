"""Tasks for the rate-key tests (`python -m drover worker -A tests.keytasks` against a stand-in hub):
one a site turns away, and one whose call to the hub itself is refused with 429."""
from __future__ import annotations

from drover import Drover, RateLimited
from drover.errors import error_for

app = Drover()  # the worker's --url and --token


@app.task(name="keys.turned_away")
def turned_away(retry_after: float | None) -> None:
    if retry_after is None:
        raise RateLimited()
    raise RateLimited("429 from api.example.com", retry_after=retry_after)


@app.task(name="keys.hub_refused")
def hub_refused() -> None:
    # What a call to the hub raises on its 429: an error of the task, not the site's "too many requests".
    raise error_for(429, "rate_limited", "too many requests for this token")

