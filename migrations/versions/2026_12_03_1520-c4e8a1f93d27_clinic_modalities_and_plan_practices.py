"""A clinic's list of therapeutic modalities; the practices of an integration plan version as structured items

Revision ID: c4e8a1f93d27
Revises: b81d52c07e3a
Create Date: 2026-12-10 11:00:00

- clinic.modalities: the clinic's own list (JSON), NULL until an admin edits it (the shipped defaults apply).
- integration_plan_version.practices: [{practice, frequency}], NULL for every version saved before (no practice
  was structured then). The table's triggers refuse UPDATE and DELETE of versions; adding a nullable column
  updates no row, so they stay.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c4e8a1f93d27"
down_revision = "b81d52c07e3a"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("clinic", sa.Column("modalities", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("integration_plan_version", sa.Column("practices", sa.JSON(none_as_null=True), nullable=True))


def downgrade():
    # SQLite drops a column in place (3.35+); the plan version table keeps its triggers.
    op.drop_column("integration_plan_version", "practices")
    op.drop_column("clinic", "modalities")
