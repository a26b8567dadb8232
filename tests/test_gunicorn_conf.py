"""gunicorn.conf.py's worker hook: once a worker has loaded the app, its objects leave the garbage collector's
reach, so a full collection does not walk the whole app at some request."""

from __future__ import annotations

import gc
import os
import runpy
from pathlib import Path
from unittest import mock

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


def test_a_worker_freezes_what_it_loaded() -> None:
    with mock.patch.dict(os.environ):  # the file sets REPORT_WORKERS for the server; not for the suite
        settings = runpy.run_path(str(CONF))
    assert settings["wsgi_app"] == "tracker:create_app()" and settings["worker_class"] == "sync"
    gc.unfreeze()
    try:
        settings["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
