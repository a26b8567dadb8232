"""Clinical notes of sessions: what a note of each session kind holds (``fields``: one table per kind), the forms,
saving a draft (``saving``), signing, addenda and the correction of an adverse event's seriousness, co-signature,
private process notes, the drafts kept on the server so no typing is lost, and the record printed on the session
page and in the PDF.

The views register on the sessions blueprint, so a note's URL and endpoint stay its session's (``sessions.sign``).
The sessions package loads first: its page reads the notes, and the packages it reaches through the patient page
read the notes' drafts, so every notes module finds the others whole whichever is imported first.
"""

from tracker.sessions import bp  # noqa: F401  (first: see above)

# isort: split
from tracker.notes import (  # noqa: F401  (registers the routes on the sessions blueprint)
    addenda_views,
    cosign_views,
    draft_views,
    private_views,
    sign_views,
    views,
)
