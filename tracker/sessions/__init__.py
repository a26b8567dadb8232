"""Sessions: scheduling and recording sessions against the protocol's plan, the session plan, and the session page,
which shows the session's note (``tracker.notes``: its fields, signing, addenda, co-signature, private process
notes, drafts). The notes' views register on this blueprint (``tracker.notes``), so their URLs and endpoint names
(``sessions.sign`` and the rest) stay those of the session they belong to."""

from flask import Blueprint, Flask

bp = Blueprint("sessions", __name__)


def register(app: Flask) -> None:
    """Add the session pages and the notes' pages to ``app``: their modules add their routes to ``bp`` as they are
    imported, here rather than at the top so that importing this package or ``tracker.notes`` (their services, from
    the command line or a job) loads no views."""
    from tracker.notes import addenda_views, cosign_views, draft_views, private_views, sign_views  # noqa: F401
    from tracker.notes import views as note_views  # noqa: F401
    from tracker.sessions import views  # noqa: F401

    app.register_blueprint(bp)
