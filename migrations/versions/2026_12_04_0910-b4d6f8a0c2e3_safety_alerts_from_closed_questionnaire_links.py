"""Safety alerts from an urgent answer posted on a questionnaire link that had closed: no result, the link instead

Revision ID: b4d6f8a0c2e3
Revises: a3c5e7f9b1d2
Create Date: 2026-12-04 09:10:00

``safety_alert.result_id`` becomes optional; ``link_id`` and ``summary`` name the link and say what was received.
An alert names exactly one source. The guards stay as they were, now over the new columns too: an alert is never
deleted or replaced, and changes once, from open to acknowledged. SQLite rebuilds the table to change a column's
nullability, which drops its triggers and its partial index: both are made again.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b4d6f8a0c2e3'
down_revision = 'a3c5e7f9b1d2'
branch_labels = None
depends_on = None

SOURCE = ("(result_id IS NOT NULL AND link_id IS NULL) "
          "OR (result_id IS NULL AND link_id IS NOT NULL AND summary IS NOT NULL)")

SQLITE_TRIGGERS = [
    """CREATE TRIGGER safety_alert_no_delete BEFORE DELETE ON safety_alert
       BEGIN SELECT RAISE(ABORT, 'safety_alert rows are kept: acknowledge an alert, never delete it'); END""",
    """CREATE TRIGGER safety_alert_acknowledge_once BEFORE UPDATE ON safety_alert
       WHEN OLD.acknowledged_at IS NOT NULL OR NEW.id IS NOT OLD.id OR NEW.patient_id IS NOT OLD.patient_id
         OR NEW.result_id IS NOT OLD.result_id OR NEW.raised_at IS NOT OLD.raised_at{extra}
       BEGIN SELECT RAISE(ABORT, 'safety_alert: only an open alert can be acknowledged, and only once'); END""",
    """CREATE TRIGGER safety_alert_no_replace BEFORE INSERT ON safety_alert
       WHEN EXISTS (SELECT 1 FROM safety_alert AS old WHERE (old.id = NEW.id OR old.result_id = NEW.result_id) AND (1))
       BEGIN SELECT RAISE(ABORT, 'safety_alert: an existing row cannot be replaced'); END""",
]
SQLITE_EXTRA = " OR NEW.link_id IS NOT OLD.link_id OR NEW.summary IS NOT OLD.summary"

POSTGRESQL_FUNCTION = """CREATE OR REPLACE FUNCTION safety_alert_acknowledge_once() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'DELETE' THEN
           RAISE EXCEPTION 'safety_alert rows are kept: acknowledge an alert, never delete it';
         END IF;
         IF OLD.acknowledged_at IS NOT NULL OR NEW.id IS DISTINCT FROM OLD.id
            OR NEW.patient_id IS DISTINCT FROM OLD.patient_id OR NEW.result_id IS DISTINCT FROM OLD.result_id
            OR NEW.raised_at IS DISTINCT FROM OLD.raised_at{extra} THEN
           RAISE EXCEPTION 'safety_alert: only an open alert can be acknowledged, and only once';
         END IF;
         RETURN NEW;
       END $$"""
POSTGRESQL_EXTRA = "\n            OR NEW.link_id IS DISTINCT FROM OLD.link_id OR NEW.summary IS DISTINCT FROM OLD.summary"

OPEN_INDEX = dict(sqlite_where=sa.text("acknowledged_at IS NULL"), postgresql_where=sa.text("acknowledged_at IS NULL"))


def _sqlite_triggers(extra):
    for name in ("safety_alert_no_delete", "safety_alert_acknowledge_once", "safety_alert_no_replace"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in SQLITE_TRIGGERS:
        op.execute(statement.format(extra=extra))


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_safety_alert_open", table_name="safety_alert")
        with op.batch_alter_table("safety_alert", recreate="always") as batch_op:
            batch_op.alter_column("result_id", existing_type=sa.Integer(), nullable=True)
            batch_op.add_column(sa.Column("link_id", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
            batch_op.create_foreign_key(op.f("fk_safety_alert_link_id_questionnaire_link"), "questionnaire_link",
                                        ["link_id"], ["id"])
            batch_op.create_check_constraint(op.f("ck_safety_alert_names_its_source"), SOURCE)
        op.create_index("ix_safety_alert_open", "safety_alert", ["patient_id"], **OPEN_INDEX)
        op.create_index(op.f("ix_safety_alert_link_id"), "safety_alert", ["link_id"])
        _sqlite_triggers(SQLITE_EXTRA)
        return
    op.alter_column("safety_alert", "result_id", existing_type=sa.Integer(), nullable=True)
    op.add_column("safety_alert", sa.Column("link_id", sa.Integer(), nullable=True))
    op.add_column("safety_alert", sa.Column("summary", sa.Text(), nullable=True))
    op.create_foreign_key(op.f("fk_safety_alert_link_id_questionnaire_link"), "safety_alert", "questionnaire_link",
                          ["link_id"], ["id"])
    op.create_check_constraint(op.f("ck_safety_alert_names_its_source"), "safety_alert", SOURCE)
    op.create_index(op.f("ix_safety_alert_link_id"), "safety_alert", ["link_id"])
    op.execute(POSTGRESQL_FUNCTION.format(extra=POSTGRESQL_EXTRA))


def downgrade():
    # One-way for the link alerts: their rows name no result, which the older schema requires, so they must go first.
    # The guards refuse deleting an alert, so the downgrade stops if any exists (acknowledge, export, then decide).
    found = op.get_bind().execute(sa.text("SELECT count(*) FROM safety_alert WHERE result_id IS NULL")).scalar()
    if found:
        raise RuntimeError(f"{found} safety alert(s) from closed questionnaire links exist: the older schema cannot "
                           "hold them.")
    op.drop_index(op.f("ix_safety_alert_link_id"), table_name="safety_alert")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_safety_alert_open", table_name="safety_alert")
        with op.batch_alter_table("safety_alert", recreate="always") as batch_op:
            batch_op.drop_constraint(op.f("ck_safety_alert_names_its_source"), type_="check")
            batch_op.drop_constraint(op.f("fk_safety_alert_link_id_questionnaire_link"), type_="foreignkey")
            batch_op.drop_column("summary")
            batch_op.drop_column("link_id")
            batch_op.alter_column("result_id", existing_type=sa.Integer(), nullable=False)
        op.create_index("ix_safety_alert_open", "safety_alert", ["patient_id"], **OPEN_INDEX)
        _sqlite_triggers("")
        return
    op.execute(POSTGRESQL_FUNCTION.format(extra=""))
    op.drop_constraint(op.f("ck_safety_alert_names_its_source"), "safety_alert", type_="check")
    op.drop_constraint(op.f("fk_safety_alert_link_id_questionnaire_link"), "safety_alert", type_="foreignkey")
    op.drop_column("safety_alert", "summary")
    op.drop_column("safety_alert", "link_id")
    op.alter_column("safety_alert", "result_id", existing_type=sa.Integer(), nullable=False)
