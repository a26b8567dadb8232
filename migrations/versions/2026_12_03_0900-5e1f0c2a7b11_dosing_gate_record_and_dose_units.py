"""Dosing gate: sex at birth and pregnancy potential on the patient, the mg/70 kg dose unit, the pre-dose decision

Revision ID: 5e1f0c2a7b11
Revises: 3e8d5f0a9b12
Create Date: 2026-12-03 09:00:00

- patient.sex_at_birth and patient.can_become_pregnant: whether a protocol's pregnancy tests apply follows the
  record, not an answer given each time.
- session_note.dose_unit gains 'mg_per_70kg' (psilocybin dosed per 70 kg of body weight), so the column widens
  and its CHECK constraint allows the new value; the weight CHECK now asks for a weight for every weight-based unit.
- session_note.pre_dose_decision: the written decision to dose despite a blood pressure above the protocol's
  threshold.

On SQLite the two session_note CHECK constraints change without rebuilding the table: rebuilding it (batch mode)
would drop the triggers that keep signed notes immutable, and its DROP TABLE fails on the foreign keys of existing
notes' readings and events. SQLite documents editing the stored CREATE TABLE text for exactly this kind of change
(https://www.sqlite.org/lang_altertable.html#otheralter, "making other kinds of table schema changes"): the new
constraints hold for every existing row (no row has the new unit; every mg/kg row has its weight), and the
integrity check runs afterwards.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0c2a7b11"
down_revision = "3e8d5f0a9b12"
branch_labels = None
depends_on = None

SEX = "sex_at_birth IN ('female', 'male', 'intersex')"
OLD_UNIT = "dose_unit IN ('mg', 'mg_per_kg')"
NEW_UNIT = "dose_unit IN ('mg', 'mg_per_kg', 'mg_per_70kg')"
OLD_WEIGHT = "dose_unit IS NULL OR dose_unit <> 'mg_per_kg' OR weight_kg IS NOT NULL"
NEW_WEIGHT = "dose_unit IS NULL OR dose_unit = 'mg' OR weight_kg IS NOT NULL"


def _sqlite_edit_table(table, replacements):
    """Apply text ``replacements`` to the stored CREATE TABLE statement of ``table`` (see the module docstring)."""
    bind = op.get_bind()
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar()
    for old, new in replacements:
        if old not in sql:
            raise RuntimeError(f"{table}: expected {old!r} in its schema")
        sql = sql.replace(old, new)
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"), {"sql": sql, "t": table}
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = bind.execute(sa.text("PRAGMA integrity_check")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"integrity check after editing {table}: {problems}")


def _session_note(widen: bool):
    bind = op.get_bind()
    unit_to = NEW_UNIT if widen else OLD_UNIT
    weight_to = NEW_WEIGHT if widen else OLD_WEIGHT
    length_from, length_to = ("VARCHAR(9)", "VARCHAR(11)") if widen else ("VARCHAR(11)", "VARCHAR(9)")
    if bind.dialect.name == "sqlite":
        sql = bind.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'session_note'")
        ).scalar()
        unit_old = _find(sql, "ck_session_note_dose_unit")
        weight_old = _find(sql, "ck_session_note_weight_for_mg_per_kg")
        _sqlite_edit_table(
            "session_note",
            [
                (f"dose_unit {length_from}", f"dose_unit {length_to}"),
                (unit_old, f"CONSTRAINT ck_session_note_dose_unit CHECK ({unit_to})"),
                (weight_old, f"CONSTRAINT ck_session_note_weight_for_mg_per_kg CHECK ({weight_to})"),
            ],
        )
        return
    op.drop_constraint(op.f("ck_session_note_dose_unit"), "session_note", type_="check")
    op.drop_constraint(op.f("ck_session_note_weight_for_mg_per_kg"), "session_note", type_="check")
    op.alter_column(
        "session_note", "dose_unit", type_=sa.String(11 if widen else 9), existing_type=sa.String(9 if widen else 11)
    )
    op.create_check_constraint(op.f("ck_session_note_dose_unit"), "session_note", unit_to)
    op.create_check_constraint(op.f("ck_session_note_weight_for_mg_per_kg"), "session_note", weight_to)


def _find(sql, name):
    """The ``CONSTRAINT name CHECK (...)`` clause of ``name`` in a CREATE TABLE statement, parentheses balanced."""
    start = sql.index(f"CONSTRAINT {name} CHECK")
    depth = 0
    for index in range(sql.index("(", start), len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[index], 0)
        if depth == 0:
            return sql[start : index + 1]
    raise RuntimeError(f"unbalanced CHECK constraint {name}")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE patient ADD COLUMN sex_at_birth VARCHAR(8) CONSTRAINT ck_patient_sex_at_birth CHECK ({SEX})"
        )
    else:
        op.add_column("patient", sa.Column("sex_at_birth", sa.String(8), nullable=True))
        op.create_check_constraint(op.f("ck_patient_sex_at_birth"), "patient", SEX)
    op.add_column("patient", sa.Column("can_become_pregnant", sa.Boolean(), nullable=True))
    op.add_column("session_note", sa.Column("pre_dose_decision", sa.Text(), nullable=True))
    _session_note(widen=True)


def downgrade():
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM session_note WHERE dose_unit = 'mg_per_70kg'")).scalar():
        raise RuntimeError("Notes dosed in mg/70 kg exist; the previous schema cannot hold them.")
    _session_note(widen=False)
    if bind.dialect.name == "sqlite":
        # SQLite 3.35+ drops columns in place, but not a column with a CHECK constraint: edit it out first.
        sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'patient'")).scalar()
        _sqlite_edit_table("patient", [(" " + _find(sql, "ck_patient_sex_at_birth"), "")])
    else:
        op.drop_constraint(op.f("ck_patient_sex_at_birth"), "patient", type_="check")
    op.drop_column("session_note", "pre_dose_decision")
    op.drop_column("patient", "can_become_pregnant")
    op.drop_column("patient", "sex_at_birth")
