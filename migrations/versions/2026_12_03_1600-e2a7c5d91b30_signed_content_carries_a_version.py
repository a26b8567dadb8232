"""Signed content carries a version: a note is hashed as the version it was signed under.

Revision ID: e2a7c5d91b30
Revises: 6c0d9e4f2a18
Create Date: 2026-12-03 16:00:00

Every note signed so far was hashed as version 1 (the content before versions): the server default gives them
that, without an UPDATE of a signed row (which the immutability trigger refuses).
"""

import sqlalchemy as sa
from alembic import op

revision = "e2a7c5d91b30"
down_revision = "6c0d9e4f2a18"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "session_note", sa.Column("content_version", sa.Integer(), server_default=sa.text("1"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("session_note", "content_version")  # ALTER TABLE ... DROP COLUMN on SQLite 3.35 and later too
