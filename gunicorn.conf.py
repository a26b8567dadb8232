"""gunicorn settings for serving the tracker (``make serve``, the systemd unit in the README).

Run as ``gunicorn -c gunicorn.conf.py``. Every value can be changed through the environment named beside it, so
one file serves a laptop and a clinic's server. Sync workers: the pages are CPU-bound (templates, PDFs), and gunicorn
advises sync workers behind a buffering proxy (https://docs.gunicorn.org/en/stable/design.html). Each worker is a
separate process, so it renders a single PDF itself (``REPORT_WORKERS=0``); batches go to ``flask worker``.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from typing import Any

wsgi_app = "tracker:create_app()"

#: Where to listen: loopback, behind nginx on the same machine (TRACKER_BIND, e.g. "unix:/run/tracker/web.sock").
bind = os.environ.get("TRACKER_BIND", "127.0.0.1:8000")
#: gunicorn's rule of thumb, 2 x cores + 1, capped: four workers keep two cores busy (TRACKER_WORKERS).
workers = int(os.environ.get("TRACKER_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 4)))
worker_class = "sync"
#: A request may take this long: a batch printed without JavaScript renders in the request (TRACKER_TIMEOUT).
timeout = int(os.environ.get("TRACKER_TIMEOUT", 120))
graceful_timeout = 30
#: Recycle each worker after this many requests, spread out, so WeasyPrint's slow memory creep stays bounded.
max_requests = 500
max_requests_jitter = 50
#: The app writes one JSON line per request (tracker/requestlog.py) with its request id; gunicorn's access log
#: would repeat it without the id. gunicorn's own messages (start, stop, a worker killed) go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("TRACKER_LOG_LEVEL", "info")
#: X-Forwarded-* headers are the app's to judge (TRUSTED_PROXY_HOPS), not gunicorn's.
forwarded_allow_ips = ""
proc_name = "tracker"

#: gunicorn's control socket (~/.gunicorn/gunicorn.ctl) is not used, and two servers on one machine would share it.
control_socket_disable = True

os.environ.setdefault("REPORT_WORKERS", "0")


def post_worker_init(worker: Any) -> None:
    """Once a worker has loaded the app, move what it holds so far (modules, the ORM's mappings, settings: about
    260,000 objects at 50,000 patients) out of the garbage collector's reach (``gc.freeze``,
    https://docs.python.org/3/library/gc.html#gc.freeze). A full collection otherwise walks them all, about 110 ms
    measured here, at some unlucky request every few hundred; frozen, it walks only what requests left behind."""
    gc.freeze()
