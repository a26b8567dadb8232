"""Indications of the new psilocybin protocols: cancer-related distress, alcohol and tobacco use disorders, OCD

Revision ID: 7a3c19e0b2d4
Revises: 99c39ed23605
Create Date: 2026-12-10 09:00:00

patient.indication keeps its length (the longest value, 'treatment_resistant_depression', is still the longest);
only its CHECK constraint widens. On SQLite the constraint changes without rebuilding the table, by editing the
stored CREATE TABLE text as SQLite documents for such changes
(https://www.sqlite.org/lang_altertable.html#otheralter): every existing row already satisfies the wider constraint,
and the integrity check runs afterwards. The downgrade refuses while a patient holds one of the new indications.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7a3c19e0b2d4"
down_revision = "99c39ed23605"
branch_labels = None
depends_on = None

OLD = ("ptsd", "major_depression", "treatment_resistant_depression", "anxiety", "other")
NEW = (*OLD, "cancer_related_distress", "alcohol_use_disorder", "tobacco_use_disorder", "obsessive_compulsive_disorder")
NAME = "ck_patient_indication"


def _check(values):
    return "indication IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _find(sql, name):
    """The ``CONSTRAINT name CHECK (...)`` clause of ``name`` in a CREATE TABLE statement, parentheses balanced."""
    start = sql.index(f"CONSTRAINT {name} CHECK")
    depth = 0
    for index in range(sql.index("(", start), len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[index], 0)
        if depth == 0:
            return sql[start : index + 1]
    raise RuntimeError(f"unbalanced CHECK constraint {name}")


def _sqlite_replace_check(values):
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'patient'")).scalar()
    sql = sql.replace(_find(sql, NAME), f"CONSTRAINT {NAME} CHECK ({_check(values)})")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'patient'"), {"sql": sql})
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = bind.execute(sa.text("PRAGMA integrity_check")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"integrity check after editing patient: {problems}")


def _set(values):
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_replace_check(values)
        return
    op.drop_constraint(op.f(NAME), "patient", type_="check")
    op.create_check_constraint(op.f(NAME), "patient", _check(values))


def upgrade():
    _set(NEW)


def downgrade():
    added = ", ".join(f"'{v}'" for v in NEW if v not in OLD)
    held = op.get_bind().execute(sa.text(f"SELECT count(*) FROM patient WHERE indication IN ({added})")).scalar()
    if held:
        raise RuntimeError("Patients hold the new indications; the previous schema cannot hold them.")
    _set(OLD)
