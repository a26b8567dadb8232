"""Sessions: scheduling and recording sessions against the protocol's plan, the session plan, and the session page,
which shows the session's note (``tracker.notes``: its fields, signing, addenda, co-signature, private process
notes, drafts). The notes' views register on this blueprint (``tracker.notes``), so their URLs and endpoint names
(``sessions.sign`` and the rest) stay those of the session they belong to."""

from flask import Blueprint

bp = Blueprint("sessions", __name__)

from tracker.sessions import views  # noqa: E402,F401  (registers the routes)
