"""How a questionnaire link reaches the patient: shown as a QR code and a link to copy; by e-mail later.

``email_questionnaire_link`` is the hook the mailer (a separate piece of work) will fill in: the send view calls it
after the link is committed, for a patient with an address on record. Until then it sends nothing and says so, and
the page tells the clinician to show the QR code or pass the link on themselves.
"""

from __future__ import annotations

from datetime import datetime

import segno
from markupsafe import Markup

from tracker.models import Patient


def email_questionnaire_link(patient: Patient, url: str, expires_at: datetime, clinic_name: str) -> bool:
    """E-mail ``url`` to the patient. Returns whether a message was sent: always False until the mailer exists."""
    return False


def qr_svg(url: str) -> Markup:
    """``url`` as a QR code, an inline SVG drawn here (no image request, no third party); error correction M."""
    code = segno.make(url, error="m", micro=False)
    svg: str = code.svg_inline(scale=5, border=4, dark="#000", light="#fff", title="QR code of the questionnaire link")
    svg = svg.replace("<svg ", '<svg role="img" aria-label="QR code of the questionnaire link" ', 1)
    return Markup(svg)  # noqa: S704 - segno's own SVG of a URL we made; no user text in it
