"""Safety alerts from an urgent answer posted on a questionnaire link that had closed: a fifth alert source

Revision ID: 8318dae8a8dd
Revises: e5a1c7d2f903
Create Date: 2026-12-04 08:50:00

- safety_alert.source gains 'questionnaire_link' (the column widens to its length, 18);
- ``names_its_source``: such an alert names the link in ``source_row_id`` and no result or session;
- ``uq_safety_alert_source_row`` (one alert per reading, adverse event or note) leaves the links out: once a link's
  alert is acknowledged, a further urgent answer on that link raises a new one (``tracker.alerts.raising``);
- SQLite's guard against INSERT OR REPLACE collides on the same columns as that index.

Every existing row already satisfies the new constraints. On SQLite the CHECK constraints and the column's declared
type change without rebuilding the table (alert_notice refers to it), by editing the stored CREATE TABLE text as
SQLite documents for such changes (https://www.sqlite.org/lang_altertable.html#otheralter); the integrity check runs
afterwards. The downgrade refuses while an alert from a questionnaire link exists (the older schema cannot hold it).
"""

import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8318dae8a8dd"
down_revision = "e5a1c7d2f903"
branch_labels = None
depends_on = None

OLD_SOURCES = ("measure", "vital_sign", "adverse_event", "risk_check")
NEW_SOURCES = (*OLD_SOURCES, "questionnaire_link")
OLD_NAMES_ITS_SOURCE = (
    "(source = 'measure') = (result_id IS NOT NULL) AND (source = 'measure') = (session_id IS NULL) "
    "AND (source = 'measure') = (source_row_id IS NULL)"
)
NEW_NAMES_ITS_SOURCE = (
    "(source = 'measure') = (result_id IS NOT NULL) "
    "AND (source IN ('measure', 'questionnaire_link')) = (session_id IS NULL) "
    "AND (source = 'measure') = (source_row_id IS NULL)"
)
ONE_PER_ROW = "source <> 'questionnaire_link'"

REFUSE_REPLACE = "safety_alert: an existing row cannot be replaced"
OLD_COLLIDES = (
    "old.id = NEW.id OR old.result_id = NEW.result_id "
    "OR (old.source = NEW.source AND old.source_row_id = NEW.source_row_id)"
)
NEW_COLLIDES = (
    "old.id = NEW.id OR old.result_id = NEW.result_id "
    f"OR (old.source = NEW.source AND old.source_row_id = NEW.source_row_id AND NEW.{ONE_PER_ROW})"
)


def _sources(values):
    return "source IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _find(sql, name):
    """The ``CONSTRAINT name CHECK (...)`` clause of ``name`` in a CREATE TABLE statement, parentheses balanced."""
    start = sql.index(f"CONSTRAINT {name} CHECK")
    depth = 0
    for index in range(sql.index("(", start), len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[index], 0)
        if depth == 0:
            return sql[start : index + 1]
    raise RuntimeError(f"unbalanced CHECK constraint {name}")


def _sqlite_edit(sources, names_its_source, length):
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'safety_alert'")).scalar()
    sql = sql.replace(
        _find(sql, "ck_safety_alert_alert_source"),
        f"CONSTRAINT ck_safety_alert_alert_source CHECK ({_sources(sources)})",
    )
    sql = sql.replace(
        _find(sql, "ck_safety_alert_names_its_source"),
        f"CONSTRAINT ck_safety_alert_names_its_source CHECK ({names_its_source})",
    )
    sql, found = re.subn(r"\bsource VARCHAR\(\d+\)", f"source VARCHAR({length})", sql)
    if found != 1:
        raise RuntimeError("safety_alert.source: column definition not found")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'safety_alert'"), {"sql": sql}
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = bind.execute(sa.text("PRAGMA integrity_check")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"integrity check after editing safety_alert: {problems}")
    op.execute("DROP TRIGGER IF EXISTS safety_alert_no_replace")


def _sqlite_no_replace(collides):
    op.execute(
        f"CREATE TRIGGER safety_alert_no_replace BEFORE INSERT ON safety_alert "
        f"WHEN EXISTS (SELECT 1 FROM safety_alert AS old WHERE ({collides}) AND (1)) "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSE_REPLACE}'); END"
    )


def _postgresql_edit(sources, names_its_source, length, old_length):
    op.alter_column(
        "safety_alert", "source", type_=sa.String(length), existing_type=sa.String(old_length), existing_nullable=False
    )
    op.drop_constraint(op.f("ck_safety_alert_alert_source"), "safety_alert", type_="check")
    op.create_check_constraint(op.f("ck_safety_alert_alert_source"), "safety_alert", _sources(sources))
    op.drop_constraint(op.f("ck_safety_alert_names_its_source"), "safety_alert", type_="check")
    op.create_check_constraint(op.f("ck_safety_alert_names_its_source"), "safety_alert", names_its_source)


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _sqlite_edit(NEW_SOURCES, NEW_NAMES_ITS_SOURCE, 18)
    else:
        _postgresql_edit(NEW_SOURCES, NEW_NAMES_ITS_SOURCE, 18, 13)
    op.drop_index("uq_safety_alert_source_row", table_name="safety_alert")
    op.create_index(
        "uq_safety_alert_source_row",
        "safety_alert",
        ["source", "source_row_id"],
        unique=True,
        sqlite_where=sa.text(ONE_PER_ROW),
        postgresql_where=sa.text(ONE_PER_ROW),
    )
    if sqlite:
        _sqlite_no_replace(NEW_COLLIDES)


def downgrade():
    bind = op.get_bind()
    held = bind.execute(sa.text("SELECT count(*) FROM safety_alert WHERE source = 'questionnaire_link'")).scalar()
    if held:
        raise RuntimeError(
            f"{held} safety alert(s) were raised on closed questionnaire links; the earlier schema cannot hold them"
        )
    sqlite = bind.dialect.name == "sqlite"
    op.drop_index("uq_safety_alert_source_row", table_name="safety_alert")
    op.create_index("uq_safety_alert_source_row", "safety_alert", ["source", "source_row_id"], unique=True)
    if sqlite:
        _sqlite_edit(OLD_SOURCES, OLD_NAMES_ITS_SOURCE, 13)
        _sqlite_no_replace(OLD_COLLIDES)
    else:
        _postgresql_edit(OLD_SOURCES, OLD_NAMES_ITS_SOURCE, 13, 18)
