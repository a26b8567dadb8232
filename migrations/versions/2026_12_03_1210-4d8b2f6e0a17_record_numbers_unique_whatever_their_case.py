"""Record numbers unique within a clinic whatever their case ("h-1000" is "H-1000")

Revision ID: 4d8b2f6e0a17
Revises: 7c3a9e1d5b24
Create Date: 2026-12-03 12:10:00

A folded copy of the record number carries a unique index (an expression index would be lost by SQLite's
batch migrations, which cannot reflect it). A clinic that already holds two record numbers differing only in case
is told which, and the upgrade stops until one is renumbered.
"""

from alembic import op
import sqlalchemy as sa


revision = "4d8b2f6e0a17"
down_revision = "7c3a9e1d5b24"
branch_labels = None
depends_on = None


def upgrade():
    clashes = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT clinic_id, lower(record_number) FROM patient GROUP BY clinic_id, lower(record_number) "
                "HAVING count(*) > 1"
            )
        )
        .fetchall()
    )
    if clashes:
        listed = ", ".join(f"clinic {clinic}: {number}" for clinic, number in clashes)
        raise RuntimeError(f"Record numbers differing only in case must be renumbered first ({listed}).")
    # Plain statements, no batch: recreating the patient table on SQLite would trip the foreign keys pointing at it.
    op.add_column("patient", sa.Column("record_number_folded", sa.String(length=40), nullable=True))
    op.execute("UPDATE patient SET record_number_folded = lower(record_number)")
    op.create_index(
        "uq_patient_clinic_record_number_folded", "patient", ["clinic_id", "record_number_folded"], unique=True
    )


def downgrade():
    op.drop_index("uq_patient_clinic_record_number_folded", table_name="patient")
    op.drop_column("patient", "record_number_folded")
