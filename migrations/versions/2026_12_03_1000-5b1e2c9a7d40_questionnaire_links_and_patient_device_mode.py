"""Questionnaire links sent to patients, and results filled in by the patient on their own device

Revision ID: 5b1e2c9a7d40
Revises: 5e1f0c2a7b11
Create Date: 2026-12-03 08:00:00.000000

measure_result.mode gains 'patient_device'. Its CHECK constraint is widened in place: on PostgreSQL by dropping and
adding the constraint; on SQLite, which cannot alter a constraint, by the procedure the SQLite documentation gives for
changing a CHECK constraint that every stored row still meets (sqlite.org/lang_altertable.html, section 7, "Making
other kinds of table schema changes": edit the table's SQL in sqlite_schema under writable_schema and bump the schema
version). Recreating the table instead (Alembic's batch mode) would need foreign keys off, which cannot be done inside
the migration's transaction, and would drop the triggers that keep results immutable.

The downgrade narrows the constraint again and refuses if any result was filled in on a patient's device (results
are never deleted, so there is nothing to narrow it over).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5b1e2c9a7d40"
down_revision = "5e1f0c2a7b11"
branch_labels = None
depends_on = None

OLD_MODES = "'with_patient', 'from_paper', 'clinician_rated'"
NEW_MODES = "'with_patient', 'from_paper', 'clinician_rated', 'patient_device'"


def _set_mode_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE measure_result DROP CONSTRAINT ck_measure_result_mode")
        op.execute(f"ALTER TABLE measure_result ADD CONSTRAINT ck_measure_result_mode CHECK (mode IN ({new}))")
        return
    if bind.dialect.name != "sqlite":
        raise NotImplementedError(f"no mode constraint change for {bind.dialect.name}")
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'measure_result'"
    ).scalar()
    before = f"CONSTRAINT ck_measure_result_mode CHECK (mode IN ({old}))"
    if sql is None or sql.count(before) != 1:
        raise RuntimeError("measure_result's mode constraint is not the one this migration expects")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'measure_result'",
        (sql.replace(before, f"CONSTRAINT ck_measure_result_mode CHECK (mode IN ({new}))"),),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade():
    _set_mode_check(OLD_MODES, NEW_MODES)
    op.create_table(
        "questionnaire_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("instruments", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_ids", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(used_at IS NULL) = (result_ids IS NULL)", name=op.f("ck_questionnaire_link_results_iff_used")
        ),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_questionnaire_link_expires_after_creation")),
        sa.CheckConstraint(
            "used_at IS NULL OR withdrawn_at IS NULL", name=op.f("ck_questionnaire_link_used_or_withdrawn")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_questionnaire_link_created_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_questionnaire_link_patient_id_patient")),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"], ["user_account.id"], name=op.f("fk_questionnaire_link_withdrawn_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_questionnaire_link_token_hash")),
    )
    op.create_index(
        "ix_questionnaire_link_patient_created", "questionnaire_link", ["patient_id", "created_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_questionnaire_link_patient_created", table_name="questionnaire_link")
    op.drop_table("questionnaire_link")
    used = op.get_bind().exec_driver_sql("SELECT count(*) FROM measure_result WHERE mode = 'patient_device'").scalar()
    if used:
        raise RuntimeError(
            f"{used} results were filled in on a patient's device; they cannot be kept without 'patient_device'"
        )
    _set_mode_check(NEW_MODES, OLD_MODES)
