"""drover as Celery's broker and result backend: `import drover.celery` in the app's module, then

    app.conf.broker_url = "drover://:TOKEN@127.0.0.1:8787"      # droverss:// for https
    app.conf.result_backend = "drover://:TOKEN@127.0.0.1:8787"

The token may come from broker_transport_options={"token": ...} (and
result_backend_transport_options) instead of the URL. Tasks, workers and results stay Celery's;
drover holds the messages (as tasks), the leases and the results. Only this subpackage imports
celery and kombu.
"""
from __future__ import annotations

from celery.app import backends
from kombu.transport import TRANSPORT_ALIASES

from . import outcome  # noqa: F401 - connects the signal handlers that end leases

TRANSPORT_ALIASES["drover"] = "drover.celery.transport:Transport"
TRANSPORT_ALIASES["droverss"] = "drover.celery.transport:SecureTransport"
backends.BACKEND_ALIASES["drover"] = "drover.celery.backend:DroverBackend"
backends.BACKEND_ALIASES["droverss"] = "drover.celery.backend:DroverBackend"
