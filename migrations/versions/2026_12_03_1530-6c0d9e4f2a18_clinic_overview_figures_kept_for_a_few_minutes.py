"""The clinic overview's figures kept for a few minutes, shared by every web process

Revision ID: 6c0d9e4f2a18
Revises: c4e8a1f93d27
Create Date: 2026-12-04 09:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "6c0d9e4f2a18"
down_revision = "c4e8a1f93d27"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "clinic_overview",
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], name=op.f("fk_clinic_overview_clinic_id_clinic")),
        sa.PrimaryKeyConstraint("clinic_id", name=op.f("pk_clinic_overview")),
    )


def downgrade():
    op.drop_table("clinic_overview")
