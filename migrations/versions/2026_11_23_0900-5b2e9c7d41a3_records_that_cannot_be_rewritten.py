"""Records that cannot be rewritten: the audit trail hash-chained per clinic; INSERT OR REPLACE (SQLite) and
TRUNCATE (PostgreSQL) refused on every immutable table; history tables made append-only

SQLite's REPLACE resolves a conflict on a key by deleting the old row without firing its DELETE triggers, so each
immutable table gets a BEFORE INSERT trigger refusing an insert that collides with an existing immutable row on any
of its keys (primary key and unique keys); a plain duplicate insert fails the same way it always did. PostgreSQL's
TRUNCATE fires no row triggers, so each table gets a BEFORE TRUNCATE statement trigger (TRUNCATE ... CASCADE fires
those of every table it reaches). Emergency access grants join the append-only tables (no code changes or deletes
them; their review is a row of its own).

The audit trail gains its chain columns; existing rows are chained in id order (tracker/auditchain.py).

Revision ID: 5b2e9c7d41a3
Revises: d203d994fd6d
Create Date: 2026-11-23 09:00:00
"""

import sqlalchemy as sa
from alembic import op

from tracker.auditchain import GENESIS, chain_of, row_hash
from tracker.models.base import UTCDateTime

revision = "5b2e9c7d41a3"
down_revision = "d203d994fd6d"
branch_labels = None
depends_on = None


def _note_signed(ref):
    return f"EXISTS (SELECT 1 FROM session_note n WHERE n.id = {ref} AND n.signed_at IS NOT NULL)"


def _session_signed(ref):
    return f"EXISTS (SELECT 1 FROM session_note n WHERE n.session_id = {ref} AND n.signed_at IS NOT NULL)"


#: table -> (how an existing row ``old`` collides with the inserted ``NEW``, on any key; when ``old`` is immutable).
IMMUTABLE = {
    "audit_event": ("old.id = NEW.id OR (old.chain = NEW.chain AND old.chain_seq = NEW.chain_seq)", "1"),
    "session_note": ("old.id = NEW.id OR old.session_id = NEW.session_id", "old.signed_at IS NOT NULL"),
    "therapy_session": (
        "old.id = NEW.id OR (old.kind = 'dosing' AND NEW.kind = 'dosing' AND old.patient_id = NEW.patient_id "
        "AND old.cycle = NEW.cycle)",
        _session_signed("old.id"),
    ),
    "vital_reading": ("old.id = NEW.id", _note_signed("old.note_id")),
    "adverse_event": ("old.id = NEW.id", _note_signed("old.note_id")),
    "session_therapist": (
        "old.session_id = NEW.session_id AND old.user_id = NEW.user_id",
        _session_signed("old.session_id"),
    ),
    "note_addendum": ("old.id = NEW.id", "1"),
    "cosign_decision": ("old.id = NEW.id", "1"),
    "measure_result": ("old.id = NEW.id OR old.supersedes_id = NEW.supersedes_id", "1"),
    "safety_alert": ("old.id = NEW.id OR old.result_id = NEW.result_id", "1"),
    "integration_plan_version": (
        "old.id = NEW.id OR (old.patient_id = NEW.patient_id AND old.number = NEW.number)",
        "1",
    ),
    "integration_plan_handout": ("old.id = NEW.id", "1"),
    "emergency_access": ("old.id = NEW.id", "1"),
}
#: Newly append-only here (the others refused UPDATE and DELETE already): an emergency grant is evidence for its
#: review, so neither its reason nor its times may change afterwards.
HISTORY = ("emergency_access",)

SQLITE_AUDIT_TRIGGERS = [
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END""",
]
POSTGRESQL_AUDIT_TRIGGER = """CREATE TRIGGER audit_event_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_event
       FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"""


def _drop_audit_triggers(dialect):
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update_or_delete ON audit_event")


def _create_audit_triggers(dialect):
    for statement in SQLITE_AUDIT_TRIGGERS if dialect == "sqlite" else [POSTGRESQL_AUDIT_TRIGGER]:
        op.execute(statement)


def _create_guards(dialect):
    if dialect == "sqlite":
        for table, (collides, immutable) in IMMUTABLE.items():
            op.execute(
                f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM {table} AS old WHERE ({collides}) AND ({immutable})) "
                f"BEGIN SELECT RAISE(ABORT, '{table}: an existing row cannot be replaced'); END"
            )
        for table in HISTORY:
            for verb in ("update", "delete"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        return
    op.execute(
        """CREATE FUNCTION refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '% cannot be truncated: its rows are kept', TG_TABLE_NAME; END $$"""
    )
    for table in IMMUTABLE:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate()"
        )
    for table in HISTORY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION append_only_row()"
        )


def _drop_guards(dialect):
    if dialect == "sqlite":
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
        for table in HISTORY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        return
    for table in IMMUTABLE:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    for table in HISTORY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS refuse_truncate()")


#: The audit rows as the chain hashes them (typed, so SQLite's text comes back as datetimes and dicts).
AUDIT = sa.table(
    "audit_event",
    sa.column("id", sa.Integer()),
    sa.column("created_at", UTCDateTime()),
    sa.column("clinic_id", sa.Integer()),
    sa.column("actor_id", sa.Integer()),
    sa.column("action", sa.String()),
    sa.column("patient_id", sa.Integer()),
    sa.column("target_type", sa.String()),
    sa.column("target_id", sa.String()),
    sa.column("summary", sa.String()),
    sa.column("data", sa.JSON()),
    sa.column("ip", sa.String()),
    sa.column("chain", sa.Integer()),
    sa.column("chain_seq", sa.Integer()),
    sa.column("prev_hash", sa.String()),
    sa.column("row_hash", sa.String()),
)


def _chain_existing_rows():
    """Chain the rows written before this revision, per clinic in id order, and write each chain's head."""
    bind = op.get_bind()
    heads: dict[int, tuple[int, str]] = {}
    updates = []
    for row in bind.execute(sa.select(AUDIT).order_by(AUDIT.c.id)).mappings():
        chain = chain_of(row["clinic_id"])
        seq, prev = heads.get(chain, (0, GENESIS))
        seq += 1
        digest = row_hash(row, chain, seq, prev)
        updates.append({"b_id": row["id"], "chain": chain, "chain_seq": seq, "prev_hash": prev, "row_hash": digest})
        heads[chain] = (seq, digest)
    if updates:
        bind.execute(
            AUDIT.update()
            .where(AUDIT.c.id == sa.bindparam("b_id"))
            .values(
                chain=sa.bindparam("chain"),
                chain_seq=sa.bindparam("chain_seq"),
                prev_hash=sa.bindparam("prev_hash"),
                row_hash=sa.bindparam("row_hash"),
            ),
            updates,
        )
    head_table = sa.table(
        "audit_chain_head",
        sa.column("chain", sa.Integer()),
        sa.column("last_seq", sa.Integer()),
        sa.column("last_hash", sa.String()),
    )
    if heads:
        bind.execute(
            head_table.insert(),
            [{"chain": chain, "last_seq": seq, "last_hash": digest} for chain, (seq, digest) in heads.items()],
        )


def upgrade():
    dialect = op.get_bind().dialect.name
    _drop_audit_triggers(dialect)
    op.create_table(
        "audit_chain_head",
        sa.Column("chain", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_chain_head")),
    )
    for name, column_type in (
        ("chain", sa.Integer()),
        ("chain_seq", sa.Integer()),
        ("prev_hash", sa.String(length=64)),
        ("row_hash", sa.String(length=64)),
    ):
        op.add_column("audit_event", sa.Column(name, column_type, nullable=True))
    _chain_existing_rows()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        for name, column_type in (
            ("chain", sa.Integer()),
            ("chain_seq", sa.Integer()),
            ("prev_hash", sa.String(length=64)),
            ("row_hash", sa.String(length=64)),
        ):
            batch_op.alter_column(name, existing_type=column_type, nullable=False)
        batch_op.create_unique_constraint("uq_audit_event_chain_seq", ["chain", "chain_seq"])
    _create_audit_triggers(dialect)
    _create_guards(dialect)


def downgrade():
    dialect = op.get_bind().dialect.name
    _drop_guards(dialect)
    _drop_audit_triggers(dialect)
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_event_chain_seq", type_="unique")
        for name in ("row_hash", "prev_hash", "chain_seq", "chain"):
            batch_op.drop_column(name)
    op.drop_table("audit_chain_head")
    _create_audit_triggers(dialect)
