"""Login throttle counters shared by every worker (failed sign-ins per account name and per address)

Revision ID: 88e2d33de89e
Revises: 5b1e2c9a7d40
Create Date: 2026-12-03 07:39:34.648720

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "88e2d33de89e"
down_revision = "5b1e2c9a7d40"  # re-parented onto the questionnaire links (one head)
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )


def downgrade():
    op.drop_table("login_throttle")
