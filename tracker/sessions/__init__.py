"""Sessions with the patient. For now: logging a session that took place (the dosing gate counts the preparation
sessions held), shown on the patient page. Session notes, vitals and signing come with the sessions issue."""
