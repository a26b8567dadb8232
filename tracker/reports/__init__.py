"""PDF reports: the integration plan, the patient summary, a session's signed record, and batches of them.

Kept free of imports so a rendering worker (``tracker.reports.renderer``) loads WeasyPrint and nothing else; the
blueprint lives in ``tracker.reports.views``.
"""
