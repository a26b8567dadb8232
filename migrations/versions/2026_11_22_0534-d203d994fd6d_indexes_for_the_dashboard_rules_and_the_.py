"""Indexes for the dashboard rules and the clinic overview

Revision ID: d203d994fd6d
Revises: 78df14c25d46
Create Date: 2026-11-22 05:34:05.565908

The rules of tracker/attention.py look up a patient's sessions by the time they were held (last session, sessions
held before a cut-off) and serious adverse events by onset; the clinic overview counts sessions held per week; a
user's care teams are found by user with the patient in the index (without it SQLite scanned every care team).
Plain CREATE INDEX (no batch mode): recreating therapy_session on SQLite would drop the triggers that keep signed
sessions immutable.
"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "d203d994fd6d"
down_revision = "78df14c25d46"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_adverse_event_onset_at", "adverse_event", ["onset_at"], unique=False)
    op.create_index("ix_therapy_session_held_at", "therapy_session", ["held_at"], unique=False)
    op.create_index("ix_therapy_session_patient_held", "therapy_session", ["patient_id", "held_at"], unique=False)
    op.create_index("ix_care_team_member_user_patient", "care_team_member", ["user_id", "patient_id"], unique=False)


def downgrade():
    op.drop_index("ix_care_team_member_user_patient", table_name="care_team_member")
    op.drop_index("ix_therapy_session_patient_held", table_name="therapy_session")
    op.drop_index("ix_therapy_session_held_at", table_name="therapy_session")
    op.drop_index("ix_adverse_event_onset_at", table_name="adverse_event")
