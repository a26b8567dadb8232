"""Signed corrections of an adverse event's seriousness (append-only)

Revision ID: e3a7c51b9d02
Revises: a3c5e7f9b1d2
Create Date: 2026-12-03 16:00:00

A serious adverse event marked by mistake is corrected by a row of its own, signed with the password; the event and
its signed note are never changed. Like the addenda, the database refuses UPDATE and DELETE of a correction, and
(as for every immutable table) an SQLite INSERT OR REPLACE onto an existing row and a PostgreSQL TRUNCATE.
"""

import sqlalchemy as sa
from alembic import op

revision = "e3a7c51b9d02"
down_revision = "a3c5e7f9b1d2"
branch_labels = None
depends_on = None

MESSAGE = "adverse_event_correction is append-only: sign a new correction instead"
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER adverse_event_correction_no_update BEFORE UPDATE ON adverse_event_correction
       BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER adverse_event_correction_no_delete BEFORE DELETE ON adverse_event_correction
       BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    """CREATE TRIGGER adverse_event_correction_no_replace BEFORE INSERT ON adverse_event_correction
       WHEN EXISTS (SELECT 1 FROM adverse_event_correction AS old WHERE old.id = NEW.id)
       BEGIN SELECT RAISE(ABORT, 'adverse_event_correction: an existing row cannot be replaced'); END""",
]
POSTGRESQL_TRIGGERS = [
    f"""CREATE FUNCTION adverse_event_correction_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$""",
    """CREATE TRIGGER adverse_event_correction_no_update_or_delete
       BEFORE UPDATE OR DELETE ON adverse_event_correction
       FOR EACH ROW EXECUTE FUNCTION adverse_event_correction_append_only()""",
    """CREATE TRIGGER adverse_event_correction_no_truncate BEFORE TRUNCATE ON adverse_event_correction
       FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate()""",
]


def upgrade():
    op.create_table(
        "adverse_event_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("adverse_event_id", sa.Integer(), nullable=False),
        sa.Column("serious", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("signed_by_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["adverse_event_id"],
            ["adverse_event.id"],
            name=op.f("fk_adverse_event_correction_adverse_event_id_adverse_event"),
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_id"], ["user_account.id"], name=op.f("fk_adverse_event_correction_signed_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_event_correction")),
    )
    with op.batch_alter_table("adverse_event_correction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adverse_event_correction_adverse_event_id"), ["adverse_event_id"], unique=False
        )
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRESQL_TRIGGERS}.get(dialect)
    if statements is None:
        raise NotImplementedError(f"no append-only triggers for {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS adverse_event_correction_no_truncate ON adverse_event_correction")
        op.execute("DROP TRIGGER IF EXISTS adverse_event_correction_no_update_or_delete ON adverse_event_correction")
        op.execute("DROP FUNCTION IF EXISTS adverse_event_correction_append_only()")
    with op.batch_alter_table("adverse_event_correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adverse_event_correction_adverse_event_id"))
    op.drop_table("adverse_event_correction")
