"""Safety alerts from every source, their e-mail notices, staff e-mail addresses

Revision ID: 99c39ed23605
Revises: b6907acc5f49
Create Date: 2026-12-03 12:00:00

- safety_alert: an alert names its source (a measure result; or a vital sign, a serious adverse event or an
  integration risk check, by the session and the row it came from), says why in ``summary``, holds the dose when
  ``high_risk``, and is acknowledged with the clinic's actions chosen (``actions``) as well as the action in words.
  ``result_id`` becomes optional (only measure alerts have one).
- alert_notice: each e-mail about an alert, with its delivery.
- user_account.email: where alerts are e-mailed.

safety_alert is rebuilt rather than altered: it loses a NOT NULL and gains CHECK constraints, which SQLite can only do
by making a new table, and nothing refers to it, so the rows are copied aside, the table made anew with the models'
schema (same ids), the rows copied back, and its triggers (immutability, no REPLACE, no TRUNCATE) created for the new
columns. Existing alerts are measure alerts: their summary is their result's urgent flag messages, they hold the dose
when the result was a C-SSRS high risk, and an existing acknowledgement gets an empty list of actions (they were
written in words only).

The downgrade refuses while any alert of another source exists (the old table cannot hold it).
"""

import sqlalchemy as sa
from alembic import op

from tracker.models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = "99c39ed23605"
down_revision = "b6907acc5f49"
branch_labels = None
depends_on = None

REFUSE_DELETE = "safety_alert rows are kept: acknowledge an alert, never delete it"
REFUSE_UPDATE = "safety_alert: only an open alert can be acknowledged, and only once"
REFUSE_REPLACE = "safety_alert: an existing row cannot be replaced"

#: Columns that say what an alert is about: never changed once written.
OLD_FIXED = ("id", "patient_id", "result_id", "raised_at")
NEW_FIXED = (
    "id",
    "patient_id",
    "source",
    "high_risk",
    "result_id",
    "session_id",
    "source_row_id",
    "summary",
    "raised_at",
)
OLD_COLLIDES = "old.id = NEW.id OR old.result_id = NEW.result_id"
NEW_COLLIDES = (
    "old.id = NEW.id OR old.result_id = NEW.result_id "
    "OR (old.source = NEW.source AND old.source_row_id = NEW.source_row_id)"
)


def _create_triggers(fixed, collides):
    if op.get_bind().dialect.name == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in fixed)
        op.execute(
            f"CREATE TRIGGER safety_alert_no_delete BEFORE DELETE ON safety_alert "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSE_DELETE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER safety_alert_acknowledge_once BEFORE UPDATE ON safety_alert "
            f"WHEN OLD.acknowledged_at IS NOT NULL OR {changed} "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSE_UPDATE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER safety_alert_no_replace BEFORE INSERT ON safety_alert "
            f"WHEN EXISTS (SELECT 1 FROM safety_alert AS old WHERE ({collides}) AND (1)) "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSE_REPLACE}'); END"
        )
        return
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in fixed)
    op.execute(f"""CREATE FUNCTION safety_alert_acknowledge_once() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'DELETE' THEN
           RAISE EXCEPTION '{REFUSE_DELETE}';
         END IF;
         IF OLD.acknowledged_at IS NOT NULL OR {changed} THEN
           RAISE EXCEPTION '{REFUSE_UPDATE}';
         END IF;
         RETURN NEW;
       END $$""")
    op.execute(
        "CREATE TRIGGER safety_alert_guard BEFORE UPDATE OR DELETE ON safety_alert "
        "FOR EACH ROW EXECUTE FUNCTION safety_alert_acknowledge_once()"
    )
    op.execute(
        "CREATE TRIGGER safety_alert_no_truncate BEFORE TRUNCATE ON safety_alert "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate()"
    )


def _drop_triggers():
    if op.get_bind().dialect.name == "sqlite":
        for name in ("safety_alert_no_delete", "safety_alert_acknowledge_once", "safety_alert_no_replace"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    op.execute("DROP TRIGGER IF EXISTS safety_alert_guard ON safety_alert")
    op.execute("DROP TRIGGER IF EXISTS safety_alert_no_truncate ON safety_alert")
    op.execute("DROP FUNCTION IF EXISTS safety_alert_acknowledge_once()")


def _set_aside():
    """Copy the rows into a plain table and drop the old one (its index names are then free for the new one)."""
    op.execute("CREATE TABLE safety_alert_old AS SELECT * FROM safety_alert")
    op.drop_index("ix_safety_alert_open", table_name="safety_alert")
    op.drop_table("safety_alert")


def _restart_ids():
    """PostgreSQL: the new table's id sequence continues after the copied ids."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('safety_alert', 'id'), "
            "COALESCE((SELECT max(id) FROM safety_alert), 0) + 1, false)"
        )


def _open_index():
    op.create_index(
        "ix_safety_alert_open",
        "safety_alert",
        ["patient_id"],
        unique=False,
        sqlite_where=sa.text("acknowledged_at IS NULL"),
        postgresql_where=sa.text("acknowledged_at IS NULL"),
    )


OLD = sa.table(
    "safety_alert_old",
    sa.column("id", sa.Integer()),
    sa.column("patient_id", sa.Integer()),
    sa.column("result_id", sa.Integer()),
    sa.column("raised_at", UTCDateTime()),
    sa.column("acknowledged_at", UTCDateTime()),
    sa.column("acknowledged_by_id", sa.Integer()),
    sa.column("action_taken", sa.Text()),
)
RESULT = sa.table(
    "measure_result",
    sa.column("id", sa.Integer()),
    sa.column("instrument", sa.String()),
    sa.column("band", sa.String()),
    sa.column("flags", sa.JSON()),
)
NEW = sa.table(
    "safety_alert",
    sa.column("id", sa.Integer()),
    sa.column("patient_id", sa.Integer()),
    sa.column("source", sa.String()),
    sa.column("high_risk", sa.Boolean()),
    sa.column("result_id", sa.Integer()),
    sa.column("summary", sa.Text()),
    sa.column("raised_at", UTCDateTime()),
    sa.column("acknowledged_at", UTCDateTime()),
    sa.column("acknowledged_by_id", sa.Integer()),
    sa.column("actions", sa.JSON(none_as_null=True)),
    sa.column("action_taken", sa.Text()),
)


def _summary(flags):
    urgent = [flag.get("message", "") for flag in flags or [] if flag.get("urgent")]
    return " ".join(m for m in urgent if m) or "An urgent flag of the result."


def upgrade():
    bind = op.get_bind()
    _drop_triggers()
    _set_aside()
    op.create_table(
        "safety_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "measure",
                "vital_sign",
                "adverse_event",
                "risk_check",
                name="alert_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("high_risk", sa.Boolean(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("source_row_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("actions", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("action_taken", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(acknowledged_at IS NULL) = (acknowledged_by_id IS NULL) AND (acknowledged_at IS NULL) = (action_taken IS NULL) AND (acknowledged_at IS NULL) = (actions IS NULL)",
            name=op.f("ck_safety_alert_acknowledged_with_action"),
        ),
        sa.CheckConstraint(
            "action_taken IS NULL OR length(trim(action_taken)) > 0", name=op.f("ck_safety_alert_action_not_blank")
        ),
        sa.CheckConstraint(
            "(source = 'measure') = (result_id IS NOT NULL) AND (source = 'measure') = (session_id IS NULL) AND (source = 'measure') = (source_row_id IS NULL)",
            name=op.f("ck_safety_alert_names_its_source"),
        ),
        sa.CheckConstraint("length(trim(summary)) > 0", name=op.f("ck_safety_alert_summary_not_blank")),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["user_account.id"], name=op.f("fk_safety_alert_acknowledged_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_safety_alert_patient_id_patient")),
        sa.ForeignKeyConstraint(
            ["result_id"], ["measure_result.id"], name=op.f("fk_safety_alert_result_id_measure_result")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["therapy_session.id"], name=op.f("fk_safety_alert_session_id_therapy_session")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_alert")),
        sa.UniqueConstraint("result_id", name=op.f("uq_safety_alert_result_id")),
    )
    _open_index()
    op.create_index("ix_safety_alert_session_id", "safety_alert", ["session_id"], unique=False)
    op.create_index("uq_safety_alert_source_row", "safety_alert", ["source", "source_row_id"], unique=True)
    rows = (
        bind.execute(
            sa.select(OLD, RESULT.c.instrument, RESULT.c.band, RESULT.c.flags)
            .join(RESULT, RESULT.c.id == OLD.c.result_id)
            .order_by(OLD.c.id)
        )
        .mappings()
        .all()
    )
    if rows:
        bind.execute(
            NEW.insert(),
            [
                {
                    "id": r["id"],
                    "patient_id": r["patient_id"],
                    "source": "measure",
                    "high_risk": r["instrument"] == "cssrs" and r["band"] == "high risk",
                    "result_id": r["result_id"],
                    "summary": _summary(r["flags"]),
                    "raised_at": r["raised_at"],
                    "acknowledged_at": r["acknowledged_at"],
                    "acknowledged_by_id": r["acknowledged_by_id"],
                    "actions": [] if r["acknowledged_at"] is not None else None,
                    "action_taken": r["action_taken"],
                }
                for r in rows
            ],
        )
    op.drop_table("safety_alert_old")
    _restart_ids()
    _create_triggers(NEW_FIXED, NEW_COLLIDES)

    op.create_table(
        "alert_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sending",
                "sent",
                "failed",
                "cancelled",
                name="notice_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name=op.f("ck_alert_notice_sent_at_iff_sent")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_alert_notice_attempts_not_negative")),
        sa.CheckConstraint("level >= 0", name=op.f("ck_alert_notice_level_not_negative")),
        sa.ForeignKeyConstraint(["alert_id"], ["safety_alert.id"], name=op.f("fk_alert_notice_alert_id_safety_alert")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_alert_notice_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notice")),
    )
    op.create_index("ix_alert_notice_status_due", "alert_notice", ["status", "due_at"], unique=False)
    op.create_index("uq_alert_notice_alert_user", "alert_notice", ["alert_id", "user_id"], unique=True)
    op.add_column("user_account", sa.Column("email", sa.String(length=254), nullable=True))


def downgrade():
    bind = op.get_bind()
    other = bind.execute(sa.text("SELECT count(*) FROM safety_alert WHERE source <> 'measure'")).scalar()
    if other:
        raise RuntimeError(
            f"{other} safety alerts were raised by vital signs, adverse events or risk checks; the "
            "earlier schema cannot hold them"
        )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("email")
    op.drop_index("uq_alert_notice_alert_user", table_name="alert_notice")
    op.drop_index("ix_alert_notice_status_due", table_name="alert_notice")
    op.drop_table("alert_notice")

    _drop_triggers()
    op.drop_index("uq_safety_alert_source_row", table_name="safety_alert")
    op.drop_index("ix_safety_alert_session_id", table_name="safety_alert")
    _set_aside()
    op.create_table(
        "safety_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("action_taken", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(acknowledged_at IS NULL) = (acknowledged_by_id IS NULL) AND (acknowledged_at IS NULL) = (action_taken IS NULL)",
            name=op.f("ck_safety_alert_acknowledged_with_action"),
        ),
        sa.CheckConstraint(
            "action_taken IS NULL OR length(trim(action_taken)) > 0", name=op.f("ck_safety_alert_action_not_blank")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["user_account.id"], name=op.f("fk_safety_alert_acknowledged_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_safety_alert_patient_id_patient")),
        sa.ForeignKeyConstraint(
            ["result_id"], ["measure_result.id"], name=op.f("fk_safety_alert_result_id_measure_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_alert")),
        sa.UniqueConstraint("result_id", name=op.f("uq_safety_alert_result_id")),
    )
    _open_index()
    op.execute(
        "INSERT INTO safety_alert (id, patient_id, result_id, raised_at, acknowledged_at, acknowledged_by_id, "
        "action_taken) SELECT id, patient_id, result_id, raised_at, acknowledged_at, acknowledged_by_id, "
        "action_taken FROM safety_alert_old"
    )
    op.drop_table("safety_alert_old")
    _restart_ids()
    _create_triggers(OLD_FIXED, OLD_COLLIDES)
