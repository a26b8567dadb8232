"""The dosing gate's memory: the record's facts at screening sign-off, and the last day a medication was current

Revision ID: 7c3a9e1d5b24
Revises: 39d74231cb9f
Create Date: 2026-12-03 12:00:00

Existing checklists keep no record at sign-off (the gate then reads the record as it is now, as before); existing
medications still taken get today's date as the last day they were known to be current, so a stop date entered
from now on cannot be back-dated behind what the record already showed.
"""

from alembic import op
import sqlalchemy as sa


revision = "7c3a9e1d5b24"
down_revision = "39d74231cb9f"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("screening_checklist", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_at_sign_off", sa.JSON(), nullable=True))
    with op.batch_alter_table("medication", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_current_on", sa.Date(), nullable=True))
    op.execute("UPDATE medication SET last_current_on = CURRENT_DATE WHERE stopped_on IS NULL")


def downgrade():
    with op.batch_alter_table("medication", schema=None) as batch_op:
        batch_op.drop_column("last_current_on")
    with op.batch_alter_table("screening_checklist", schema=None) as batch_op:
        batch_op.drop_column("record_at_sign_off")
