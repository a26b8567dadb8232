"""What to write in each section of an integration plan: prompts for the clinician, shown under each field.

The sections themselves come from the protocol files (``integration_plan_sections``). Regulated programmes require an
integration session (Oregon ORS 475A.340, https://www.oregonlegislature.gov/bills_laws/ors/ors475A.html) and the MAPS
manual has a follow-up and integration phase (Mithoefer M, A manual for MDMA-assisted psychotherapy in the treatment
of posttraumatic stress disorder, Santa Cruz: MAPS, 2008), but no mandated plan fields were found in them [U], so the
sections are each protocol's (a clinic setting) and these prompts are guidance, not rules. A section a clinic adds
without a prompt here gets the general one.
"""

from __future__ import annotations

GENERAL = "Write to the patient in plain, everyday words: short sentences, no abbreviations or diagnoses."

PROMPTS = {
    "Insights and themes": "What came up for the patient, in their own words where you can: the few themes they "
    "want to keep coming back to.",
    "Intentions and goals": "Two or three concrete intentions the patient chose, each one something they can do "
    "(“I will…”), with when.",
    "Practices (sleep, movement, nature, breathwork, contemplative practice, nutrition)": "The practices agreed "
    "with the patient and how often: sleep, movement, time in nature, breathwork, contemplative practice, food.",
    "Therapy and referrals": "Who the patient will see next (therapist, family doctor, psychiatrist, a group), with "
    "names, phone numbers and dates where known.",
    "Support people": "The people the patient can turn to, and how to reach them.",
    "Warning signs and crisis plan": "The signs that things are getting worse, what the patient will do then, and "
    "who to call. The crisis line below is printed with every version of the plan.",
    "Follow-up sessions and measures": "Follow-up appointments and the questionnaires the clinic will ask the "
    "patient to fill in, with dates. For a first plan this starts from the measures schedule.",
    "Labs and physical health follow-up": "Blood tests, blood-pressure checks or other physical follow-up, with "
    "who does them and when.",
}


def prompt(title: str) -> str:
    return PROMPTS.get(title, GENERAL)
