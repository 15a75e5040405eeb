"""An app with more tasks than one claim may name (100): its worker claims any task of its queue."""
from __future__ import annotations

from drover import Drover

app = Drover()

for n in range(101):
    app.task(name=f"py.many.{n}")(lambda n=n: n)
