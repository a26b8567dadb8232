"""Research consent on the patient: only patients who agreed are in the de-identified research export

Revision ID: a3c5e7f9b1d2
Revises: 8318dae8a8dd
Create Date: 2026-12-04 09:00:00

Every patient enrolled before starts without consent (false): nobody is exported for research until the clinic
records the patient's agreement on the patient form.
"""

from alembic import op
import sqlalchemy as sa


revision = "a3c5e7f9b1d2"
down_revision = "8318dae8a8dd"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN, no batch: recreating the patient table on SQLite would trip the foreign keys pointing at it.
    op.add_column("patient", sa.Column("research_consent", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column("patient", "research_consent")
