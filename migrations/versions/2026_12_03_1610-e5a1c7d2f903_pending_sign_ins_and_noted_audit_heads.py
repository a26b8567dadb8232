"""Pending sign-ins held on the server (one-time, consumed when the login session opens) and noted audit chain heads

Revision ID: e5a1c7d2f903
Revises: e2a7c5d91b30
Create Date: 2026-12-03 14:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e5a1c7d2f903"
down_revision = "e2a7c5d91b30"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "pending_sign_in",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("second", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_pending_sign_in_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_sign_in")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_pending_sign_in_token_hash")),
    )
    with op.batch_alter_table("pending_sign_in", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_sign_in_user_id"), ["user_id"], unique=False)
    op.create_table(
        "audit_head_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head_note")),
    )
    with op.batch_alter_table("audit_head_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_head_note_chain"), ["chain"], unique=False)


def downgrade():
    with op.batch_alter_table("audit_head_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_head_note_chain"))
    op.drop_table("audit_head_note")
    with op.batch_alter_table("pending_sign_in", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_sign_in_user_id"))
    op.drop_table("pending_sign_in")
