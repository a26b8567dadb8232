"""Clinic settings: the clinic's time zone, crisis line, and the windows of its measure schedule and attention queue

Revision ID: b6907acc5f49
Revises: 4d8b2f6e0a17
Create Date: 2026-12-04 09:00:00

Existing clinics keep what they ran on until now: UTC (their admins choose their zone on the clinic settings page),
and the windows and crisis line of the deployment's configuration (``MEASURE_*``, ``ATTENTION_*``, ``CRISIS_LINE``
read when the migration runs through ``flask db upgrade``; the built-in defaults otherwise).
"""

from alembic import op
import sqlalchemy as sa
from flask import current_app, has_app_context


revision = "b6907acc5f49"
down_revision = "4d8b2f6e0a17"
branch_labels = None
depends_on = None

#: Column -> (configuration key, built-in default).
WINDOWS = {
    "measure_baseline_max_age_days": ("MEASURE_BASELINE_MAX_AGE_DAYS", 30),
    "measure_after_dosing_window_days": ("MEASURE_AFTER_DOSING_WINDOW_DAYS", 14),
    "measure_end_after_last_dosing_days": ("MEASURE_END_OF_TREATMENT_AFTER_LAST_DOSING_DAYS", 28),
    "measure_end_window_days": ("MEASURE_END_OF_TREATMENT_WINDOW_DAYS", 14),
    "measure_follow_up_window_days": ("MEASURE_FOLLOW_UP_WINDOW_DAYS", 14),
    "attention_note_unsigned_hours": ("ATTENTION_NOTE_UNSIGNED_HOURS", 24),
    "attention_serious_ae_days": ("ATTENTION_SERIOUS_AE_DAYS", 30),
    "attention_no_session_days": ("ATTENTION_NO_SESSION_DAYS", 30),
    "attention_emergency_review_hours": ("ATTENTION_EMERGENCY_REVIEW_HOURS", 24),
}


def upgrade():
    with op.batch_alter_table("clinic", schema=None) as batch_op:
        batch_op.add_column(sa.Column("crisis_line", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False))
        for column, (_key, default) in WINDOWS.items():
            batch_op.add_column(sa.Column(column, sa.Integer(), server_default=str(default), nullable=False))
        batch_op.add_column(
            sa.Column("measure_follow_up_days", sa.String(length=80), server_default="90,180", nullable=False)
        )
    if not has_app_context():
        return
    config = current_app.config
    clinic = sa.table(
        "clinic",
        sa.column("crisis_line", sa.String),
        sa.column("measure_follow_up_days", sa.String),
        *(sa.column(column, sa.Integer) for column in WINDOWS),
    )
    values = {column: int(config[key]) for column, (key, _default) in WINDOWS.items() if key in config}
    if "MEASURE_FOLLOW_UP_DAYS" in config:
        values["measure_follow_up_days"] = ",".join(str(int(d)) for d in config["MEASURE_FOLLOW_UP_DAYS"])
    if config.get("CRISIS_LINE"):
        values["crisis_line"] = str(config["CRISIS_LINE"])[:200]
    if values:
        op.execute(clinic.update().values(**values))


def downgrade():
    with op.batch_alter_table("clinic", schema=None) as batch_op:
        batch_op.drop_column("measure_follow_up_days")
        for column in reversed(list(WINDOWS)):
            batch_op.drop_column(column)
        batch_op.drop_column("time_zone")
        batch_op.drop_column("crisis_line")
