"""Background jobs shared by every web process and worker: the job (a PDF batch or a FHIR export), a batch's documents until rendered, the output until downloaded

Revision ID: 39d74231cb9f
Revises: 88e2d33de89e
Create Date: 2026-12-03 07:44:47.596955

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "39d74231cb9f"
down_revision = "88e2d33de89e"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("pdf_batch", "fhir_export", name="report_job_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "ready",
                "failed",
                "taken",
                name="report_job_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("output", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_report_job_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_job")),
    )
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.create_index("ix_report_job_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "report_job_document",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["report_job.id"], name=op.f("fk_report_job_document_job_id_report_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "position", name=op.f("pk_report_job_document")),
    )


def downgrade():
    op.drop_table("report_job_document")
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.drop_index("ix_report_job_user_created")

    op.drop_table("report_job")
