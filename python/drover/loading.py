"""Finds the Drover app that `-A` names: `module` (its `app`, or its one Drover) or `module:attribute`."""
from __future__ import annotations

import importlib
import os
import sys

from .app import Drover


def load_app(spec: str) -> Drover:
    """Imports the module (the current directory first on the path, as `celery -A` has it)."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    if attribute:
        found = getattr(module, attribute, None)
        if not isinstance(found, Drover):
            raise LookupError(f"{module_name}.{attribute} is not a Drover app")
        return found
    named = getattr(module, "app", None)
    if isinstance(named, Drover):
        return named
    apps = {id(v): v for v in vars(module).values() if isinstance(v, Drover)}
    if len(apps) != 1:
        raise LookupError(f"module {module_name} has {'no' if not apps else 'more than one'} Drover app: name it with -A {module_name}:attribute")
    return next(iter(apps.values()))
