"""Laboratory results of the pre-treatment evaluation (immutable; corrections supersede)

Revision ID: b81d52c07e3a
Revises: 7a3c19e0b2d4
Create Date: 2026-12-10 10:00:00

Laboratory results are immutable like outcome results: a correction is a new row that supersedes the old one, so
the database refuses UPDATE and DELETE outright.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b81d52c07e3a"
down_revision = "7a3c19e0b2d4"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER lab_result_no_update BEFORE UPDATE ON lab_result
       BEGIN SELECT RAISE(ABORT, 'lab_result is immutable: record a correction instead'); END""",
    """CREATE TRIGGER lab_result_no_delete BEFORE DELETE ON lab_result
       BEGIN SELECT RAISE(ABORT, 'lab_result is immutable: record a correction instead'); END""",
]
POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION lab_result_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'lab_result is immutable: record a correction instead'; END $$""",
    """CREATE TRIGGER lab_result_no_update_or_delete BEFORE UPDATE OR DELETE ON lab_result
       FOR EACH ROW EXECUTE FUNCTION lab_result_immutable()""",
]


def upgrade():
    op.create_table(
        "lab_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("marker", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("reference_low", sa.Float(), nullable=True),
        sa.Column("reference_high", sa.Float(), nullable=True),
        sa.Column("range_from_laboratory", sa.Boolean(), nullable=False),
        sa.Column("range_source", sa.Text(), nullable=False),
        sa.Column("flag", sa.String(length=4), nullable=True),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("laboratory", sa.String(length=120), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("correction_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("flag IS NULL OR flag IN ('low', 'high')", name=op.f("ck_lab_result_flag_known")),
        sa.CheckConstraint(
            "(supersedes_id IS NULL) = (correction_reason IS NULL)", name=op.f("ck_lab_result_reason_iff_correction")
        ),
        sa.CheckConstraint(
            "reference_low IS NULL OR reference_high IS NULL OR reference_low < reference_high",
            name=op.f("ck_lab_result_range_ordered"),
        ),
        sa.CheckConstraint(
            "supersedes_id IS NULL OR supersedes_id <> id", name=op.f("ck_lab_result_not_own_correction")
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["user_account.id"], name=op.f("fk_lab_result_entered_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_lab_result_patient_id_patient")),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["lab_result.id"], name=op.f("fk_lab_result_supersedes_id_lab_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_result")),
    )
    with op.batch_alter_table("lab_result", schema=None) as batch_op:
        batch_op.create_index("ix_lab_result_patient_marker", ["patient_id", "marker", "collected_on"], unique=False)
        batch_op.create_index("uq_lab_result_supersedes_id", ["supersedes_id"], unique=True)
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRESQL_TRIGGERS}.get(dialect)
    if statements is None:
        raise NotImplementedError(f"no immutability triggers for {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS lab_result_no_update_or_delete ON lab_result")
        op.execute("DROP FUNCTION IF EXISTS lab_result_immutable()")
    with op.batch_alter_table("lab_result", schema=None) as batch_op:
        batch_op.drop_index("uq_lab_result_supersedes_id")
        batch_op.drop_index("ix_lab_result_patient_marker")
    op.drop_table("lab_result")
