"""Clinical notes of sessions: what a note of each session kind holds (``fields``: one table per kind), the forms,
saving a draft (``saving``), signing, addenda and the correction of an adverse event's seriousness, co-signature,
private process notes, the drafts kept on the server so no typing is lost, and the record printed on the session
page and in the PDF.

The views register on the sessions blueprint (``tracker.sessions.register``), so a note's URL and endpoint stay
its session's (``sessions.sign``). Importing this package loads no views.
"""
