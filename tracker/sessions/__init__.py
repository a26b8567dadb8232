"""Sessions and their notes: scheduling and recording sessions against the protocol's plan, structured notes per
session kind, vital signs, adverse events, discharge, signing, addenda, co-signature, private process notes, and
drafts kept on the server so no typing is lost."""

from flask import Blueprint

bp = Blueprint("sessions", __name__)

from tracker.sessions import correction_views, note_views, private_views, sign_views, views  # noqa: E402,F401  (registers the routes)
