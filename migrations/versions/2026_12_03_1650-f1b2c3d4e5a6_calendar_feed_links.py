"""The per-user calendar feed link: the SHA-256 of its secret on the account

Revision ID: f1b2c3d4e5a6
Revises: e3a7c51b9d02
Create Date: 2026-12-03 16:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f1b2c3d4e5a6"
down_revision = "e3a7c51b9d02"
branch_labels = None
depends_on = None


def upgrade():
    # A column and a unique index: no table rebuild (SQLite's batch mode would recreate the accounts table).
    op.add_column("user_account", sa.Column("calendar_token_sha256", sa.String(length=64), nullable=True))
    op.create_index("ix_user_account_calendar_token_sha256", "user_account", ["calendar_token_sha256"], unique=True)


def downgrade():
    op.drop_index("ix_user_account_calendar_token_sha256", table_name="user_account")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("calendar_token_sha256")
