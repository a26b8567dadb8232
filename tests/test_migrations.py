"""The migrations build exactly the models' schema, every revision goes down and up again, and the audit trail is
append-only in the database itself (HIPAA 45 CFR 164.312(b) and (c)(1); each revision tested up and down as
SecureDrop does: freedomofpress/securedrop, securedrop/tests/test_alembic.py).

Each test migrates its own fresh database (``tests.databases.fresh_database``), never the suite's shared one. The
shared ``tracker.extensions.db`` picks the engine of the app whose context is pushed, so ``db.engine`` below is
the fresh database's; these tests use Core connections only, because ``db.session`` is swapped by the autouse
fixture in ``conftest.py`` and points at the shared database.

Seen failing (temporarily, in a scratch copy of the project, never committed), on SQLite and PostgreSQL:
- schema: widening ``Patient.phone`` and indexing it in the models without a migration (``modify_type`` and
  ``add_index`` in the diff); adding a member to ``Phase`` (the enum CHECK constraints no longer match; alembic
  never compares CHECK constraints, hence the separate comparison); changing the predicate of the partial index
  ``uq_care_team_member_one_lead`` (alembic compares its columns, not its WHERE). A further test guards against
  a comparison that silently looks at nothing.
- up/down: removing ``op.drop_table('clinic')`` from the downgrade; removing ``drop_audit_triggers()`` fails on
  PostgreSQL (the trigger function survives; SQLite drops triggers with their table).
- append-only: removing the ``create_audit_triggers()`` call from the upgrade let UPDATE and DELETE through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint, Connection, Index, MetaData, String, insert, inspect, text
from sqlalchemy.exc import DBAPIError

from config import TestConfig
from tests.databases import fresh_database
from tracker import create_app
from tracker.auditchain import NO_CLINIC, chain_rows
from tracker.extensions import db
from tracker.models import AuditEvent, Base
from tracker.models.base import NAMING_CONVENTION

VERSION_TABLE = "alembic_version"


@pytest.fixture
def fresh_app() -> Iterator[Flask]:
    """An app on a new, empty database, with its app context pushed; the engine is disposed afterwards."""
    with fresh_database() as url:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            try:
                yield app
            finally:
                db.engine.dispose()


# --- helpers -------------------------------------------------------------------------------------------------


def schema_diff(connection: Connection, metadata: MetaData) -> list[Any]:
    """Alembic's autogenerate comparison of the live database with ``metadata`` (tables, columns and their types,
    nullability, server defaults, indexes, unique constraints, foreign keys), ignoring alembic's own table."""
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_name": lambda name, type_, _parent: not (type_ == "table" and name == VERSION_TABLE),
        },
    )
    return list(compare_metadata(context, metadata))


def literals(sql: str) -> set[str]:
    """The quoted string literals in a piece of SQL: enough to compare CHECK constraints across dialects, whose
    reflected text is rewritten by the database (PostgreSQL turns ``x IN ('a')`` into ``x = ANY (ARRAY[...])``)."""
    return set(re.findall(r"'((?:[^']|'')*)'", sql))


def compiled(clause: Any, connection: Connection) -> str:
    return str(clause.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))


def check_constraint_mismatches(connection: Connection, metadata: MetaData) -> list[str]:
    """CHECK constraints (alembic's autogenerate does not compare them): same names per table, same literals."""
    inspector = inspect(connection)
    problems = []
    for table in metadata.sorted_tables:
        wanted = {
            c.name: literals(compiled(c.sqltext, connection))
            for c in table.constraints
            if isinstance(c, CheckConstraint)
        }
        found = {c["name"]: literals(c["sqltext"]) for c in inspector.get_check_constraints(table.name)}
        if set(wanted) != set(found):
            problems.append(
                f"{table.name}: CHECK constraints {sorted(found)} in the database, {sorted(wanted)} in the models"
            )
            continue
        for name, values in wanted.items():
            if values != found[name]:
                problems.append(f"{table.name}.{name}: database allows {sorted(found[name])}, models {sorted(values)}")
    return problems


def partial_index_mismatches(connection: Connection, metadata: MetaData) -> list[str]:
    """The WHERE clause of partial indexes (alembic compares their columns and uniqueness, not the predicate)."""
    dialect = connection.dialect.name
    inspector = inspect(connection)
    problems = []
    for table in metadata.sorted_tables:
        reflected = {ix["name"]: ix for ix in inspector.get_indexes(table.name)}
        for index in table.indexes:
            where = index.dialect_options[dialect]._non_defaults.get("where")
            if where is None:
                continue
            found = reflected.get(str(index.name), {}).get("dialect_options", {}).get(f"{dialect}_where")
            if found is None:
                problems.append(f"{index.name}: not a partial index in the database")
            elif literals(str(found)) != literals(compiled(where, connection)):
                problems.append(
                    f"{index.name}: WHERE {found} in the database, {compiled(where, connection)} in the models"
                )
    return problems


def columns_and_checks(connection: Connection) -> set[str]:
    """Every column (with its type) and CHECK constraint of the application's tables: a revision may change only
    these."""
    inspector = inspect(connection)
    found = set()
    for table in inspector.get_table_names():
        if table == VERSION_TABLE:
            continue
        found |= {f"column {table}.{c['name']} {c['type']}" for c in inspector.get_columns(table)}
        found |= {
            f"check {table}.{c['name']} {sorted(literals(c['sqltext']))}"
            for c in inspector.get_check_constraints(table)
        }
    return found


def application_objects(connection: Connection) -> set[str]:
    """Every table, view, index, trigger, column and CHECK constraint the application could have left behind (and,
    on PostgreSQL, functions and types in the public schema)."""
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            text("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name <> :version"),
            {"version": VERSION_TABLE},
        )
        return {f"{kind} {name}" for kind, name in rows} | columns_and_checks(connection)
    rows = connection.execute(
        text(
            """
            SELECT 'relation ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relname NOT IN (:version, :version_pk)
            UNION ALL
            SELECT 'trigger ' || t.tgname FROM pg_trigger t WHERE NOT t.tgisinternal
            UNION ALL
            SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public'
            UNION ALL
            SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = 'public' AND t.typname NOT IN (:version, '_' || :version)
            """
        ),
        {"version": VERSION_TABLE, "version_pk": f"{VERSION_TABLE}_pkc"},
    )
    return {row[0] for row in rows} | columns_and_checks(connection)


def revisions_base_to_head() -> list[str]:
    config = current_app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)
    return [revision.revision for revision in reversed(list(script.walk_revisions(base="base", head="heads")))]


def assert_schema_matches_models() -> None:
    with db.engine.connect() as connection:
        diff = schema_diff(connection, Base.metadata)
        assert diff == [], "migrated schema differs from the models:\n" + "\n".join(map(repr, diff))
        problems = check_constraint_mismatches(connection, Base.metadata)
        problems += partial_index_mismatches(connection, Base.metadata)
        assert problems == [], "\n".join(problems)


# --- tests ---------------------------------------------------------------------------------------------------


def test_it_builds_exactly_the_models_schema(fresh_app: Flask) -> None:
    upgrade()
    assert_schema_matches_models()


def test_the_comparison_sees_differences(fresh_app: Flask) -> None:
    """Guard against a comparison that finds nothing because it looks at nothing: a copy of the models with one
    extra index, one wider column, one extra enum value and one fewer CHECK constraint must differ from the database."""
    upgrade()
    altered = MetaData(naming_convention=NAMING_CONVENTION)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(altered)
    patient = altered.tables["patient"]
    Index("ix_patient_phone", patient.c.phone)
    patient.c.phone.type = String(41)
    user_account = altered.tables["user_account"]
    user_account.constraints.remove(
        next(c for c in user_account.constraints if c.name == "ck_user_account_not_own_supervisor")
    )
    held = next(c for c in patient.constraints if c.name == "ck_patient_held_from_active")
    held.sqltext = text("held_from_phase IN ('preparation', 'dosing', 'integration', 'on_hold')")

    with db.engine.connect() as connection:
        diff = schema_diff(connection, altered)
        kinds = {entry[0] if isinstance(entry, tuple) else entry[0][0] for entry in diff}
        assert {"add_index", "modify_type"} <= kinds, diff
        problems = check_constraint_mismatches(connection, altered)
    assert any("ck_user_account_not_own_supervisor" in p for p in problems), problems
    assert any("ck_patient_held_from_active" in p for p in problems), problems


def test_each_revision_goes_up_and_down(fresh_app: Flask) -> None:
    """SecureDrop's ``test_alembic_migration_up_and_down``: one revision at a time, upgrade, downgrade one step
    (which must leave exactly what was there before), upgrade again; then all the way down and back up."""
    revisions = revisions_base_to_head()
    assert revisions, "no migrations found"
    with db.engine.connect() as connection:
        before = application_objects(connection)
    assert before == set()
    for revision in revisions:
        upgrade(revision=revision)
        with db.engine.connect() as connection:
            after = application_objects(connection)
        assert after != before, f"{revision} changed nothing"
        downgrade(revision="-1")
        with db.engine.connect() as connection:
            left = application_objects(connection)
        assert left == before, f"downgrade of {revision} left {sorted(left - before)}, lost {sorted(before - left)}"
        upgrade(revision=revision)
        with db.engine.connect() as connection:
            before = application_objects(connection)
        assert before == after, f"{revision} is not the same after a round trip"

    assert_schema_matches_models()

    downgrade(revision="base")
    with db.engine.connect() as connection:
        assert application_objects(connection) == set()
        tables = set(inspect(connection).get_table_names())
    assert tables <= {VERSION_TABLE}

    upgrade()
    assert_schema_matches_models()


def test_the_audit_trail_is_append_only_in_the_database(fresh_app: Flask) -> None:
    upgrade()
    row = {"created_at": datetime.now(UTC), "action": "test.event", "summary": "Written once"}
    head = chain_rows([row], NO_CLINIC)
    with db.engine.begin() as connection:
        event_id = connection.execute(insert(AuditEvent).values(row).returning(AuditEvent.id)).scalar_one()

    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET summary = 'rewritten' WHERE id = :id"), {"id": event_id})
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": event_id})
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event"))

    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, summary FROM audit_event")).all()
    assert [tuple(r) for r in rows] == [(event_id, "Written once")]

    with db.engine.begin() as connection:  # appending still works after the refusals
        second = {**row, "summary": "Written twice"}
        chain_rows([second], NO_CLINIC, *head)
        connection.execute(insert(AuditEvent).values(second))
        assert connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 2


def _insert(connection: Connection, table_name: str, **values: Any) -> int:
    """Insert one row into ``table_name`` as the database stands (reflected, not the models), filling each required
    column the test does not name with a plain value of its type."""
    from datetime import date

    from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Table

    table = Table(table_name, MetaData(), autoload_with=connection)
    row = dict(values)
    for column in table.columns:
        if column.name in row or column.nullable or column.primary_key or column.server_default is not None:
            continue
        kind = column.type
        row[column.name] = (
            datetime.now(UTC)
            if isinstance(kind, DateTime)
            else date(2026, 1, 1)
            if isinstance(kind, Date)
            else False
            if isinstance(kind, Boolean)
            else 1.0
            if isinstance(kind, Float)
            else 1
            if isinstance(kind, Integer)
            else {}
            if "JSON" in type(kind).__name__.upper()
            else "x"
        )
    return int(connection.execute(insert(table).values(row).returning(table.c.id)).scalar_one())


def test_the_dose_unit_migration_keeps_signed_notes_and_their_guards(fresh_app: Flask) -> None:
    """The mg/70 kg unit changes two CHECK constraints of ``session_note`` in place (on SQLite by editing its stored
    schema): a database holding signed notes with readings upgrades, keeps every row, still refuses any change to a
    signed note, and now accepts mg/70 kg with a weight, never without one."""
    config = current_app.extensions["migrate"].migrate.get_config()
    before_it = ScriptDirectory.from_config(config).get_revision("5e1f0c2a7b11").down_revision
    upgrade(revision=before_it)
    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        clinic = _insert(connection, "clinic", name="Old Clinic")
        user = _insert(
            connection,
            "user_account",
            clinic_id=clinic,
            username="old",
            full_name="Old Hand",
            password_hash="x",
            is_therapist=True,
        )
        patient = _insert(
            connection,
            "patient",
            clinic_id=clinic,
            record_number="OLD-1",
            given_name="A",
            family_name="B",
            indication="ptsd",
            protocol_code="mdma-ptsd",
            phase="dosing",
            version_id=1,
            phase_changed_at=now,
            created_at=now,
        )
        sessions = [
            _insert(
                connection,
                "therapy_session",
                patient_id=patient,
                kind="dosing",
                cycle=cycle,
                held_at=now,
                duration_minutes=60,
                logged_by_id=user,
                created_at=now,
            )
            for cycle in (1, 2)
        ]
        signed = _insert(
            connection,
            "session_note",
            session_id=sessions[0],
            author_id=user,
            updated_by_id=user,
            version_id=1,
            fields={},
            body="Signed before the upgrade",
            dose_amount=0.5,
            dose_unit="mg_per_kg",
            weight_kg=70.0,
            dose_total_mg=35.0,
            created_at=now,
            updated_at=now,
        )
        _insert(
            connection,
            "vital_reading",
            note_id=signed,
            taken_at=now,
            systolic=120,
            diastolic=80,
            recorded_by_id=user,
            created_at=now,
        )
        connection.execute(
            text(
                "UPDATE session_note SET signed_at = :now, signed_by_id = :user, content_sha256 = 'abc' WHERE id = :id"
            ),
            {"now": now, "user": user, "id": signed},
        )
        draft = _insert(
            connection,
            "session_note",
            session_id=sessions[1],
            author_id=user,
            updated_by_id=user,
            version_id=1,
            fields={},
            body="A draft",
            created_at=now,
            updated_at=now,
        )
    upgrade()
    assert_schema_matches_models()
    with db.engine.connect() as connection:
        kept = connection.execute(
            text("SELECT body, dose_unit, weight_kg FROM session_note WHERE id = :id"), {"id": signed}
        ).one()
        assert tuple(kept) == ("Signed before the upgrade", "mg_per_kg", 70.0)
        assert connection.execute(text("SELECT count(*) FROM vital_reading")).scalar_one() == 1
    with pytest.raises(DBAPIError, match="signed"), db.engine.begin() as connection:
        connection.execute(text("UPDATE session_note SET body = 'rewritten' WHERE id = :id"), {"id": signed})
    with pytest.raises(DBAPIError), db.engine.begin() as connection:
        connection.execute(
            text("UPDATE session_note SET dose_unit = 'mg_per_70kg', dose_amount = 20 WHERE id = :id"), {"id": draft}
        )  # no weight: refused
    with db.engine.begin() as connection:
        connection.execute(
            text("UPDATE session_note SET dose_unit = 'mg_per_70kg', dose_amount = 20, weight_kg = 84 WHERE id = :id"),
            {"id": draft},
        )
    with pytest.raises(DBAPIError), db.engine.begin() as connection:
        connection.execute(text("UPDATE session_note SET dose_unit = 'grains' WHERE id = :id"), {"id": draft})


def test_existing_clinics_keep_utc_and_take_the_configured_windows_and_crisis_line(fresh_app: Flask) -> None:
    """The clinic settings revision: a clinic made before it keeps running on UTC (its admin then chooses the zone)
    and takes the deployment's configured windows and crisis line, which were the clinic's settings until then."""
    config = current_app.extensions["migrate"].migrate.get_config()
    before_it = ScriptDirectory.from_config(config).get_revision("b6907acc5f49").down_revision
    upgrade(revision=before_it)
    with db.engine.begin() as connection:
        clinic = _insert(connection, "clinic", name="Old Clinic")
    configured = {
        "MEASURE_AFTER_DOSING_WINDOW_DAYS": 7,
        "MEASURE_FOLLOW_UP_DAYS": (30, 365),
        "CRISIS_LINE": "Crisis line 0800 111 222",
    }
    saved = {key: fresh_app.config[key] for key in configured}
    fresh_app.config.update(configured)
    try:
        upgrade()
    finally:
        fresh_app.config.update(saved)
    assert_schema_matches_models()
    with db.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT time_zone, measure_after_dosing_window_days, measure_follow_up_days, crisis_line, "
                "attention_note_unsigned_hours FROM clinic WHERE id = :id"
            ),
            {"id": clinic},
        ).one()
    assert tuple(row) == ("UTC", 7, "30,365", "Crisis line 0800 111 222", 24)


def test_the_alert_migration_keeps_every_alert_and_its_guards(fresh_app: Flask) -> None:
    """Safety alerts from every source rebuild ``safety_alert``: the open and the acknowledged alert keep their ids,
    patients and acknowledgements; a C-SSRS high risk alert now holds the dose; the table still refuses a change
    after the acknowledgement, a change of what an alert is about and a delete; new ids follow the old ones."""
    config = current_app.extensions["migrate"].migrate.get_config()
    before_it = ScriptDirectory.from_config(config).get_revision("99c39ed23605").down_revision
    upgrade(revision=before_it)
    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        clinic = _insert(connection, "clinic", name="Old Clinic")
        user = _insert(
            connection,
            "user_account",
            clinic_id=clinic,
            username="old",
            full_name="Old Hand",
            password_hash="x",
            is_therapist=True,
        )
        patient = _insert(
            connection,
            "patient",
            clinic_id=clinic,
            record_number="OLD-1",
            given_name="A",
            family_name="B",
            indication="ptsd",
            protocol_code="mdma-ptsd",
            phase="dosing",
            version_id=1,
            phase_changed_at=now,
            created_at=now,
        )
        results = [
            _insert(
                connection,
                "measure_result",
                patient_id=patient,
                instrument=code,
                administered_on=now.date(),
                mode="with_patient",
                answers=[],
                total=None,
                band=band,
                band_index=1,
                subscales=[],
                flags=[{"code": code, "message": message, "urgent": True, "source": "s"}],
                entered_by_id=user,
                entered_at=now,
            )
            for code, band, message in (("phq9", "mild", "Item 9 above 0."), ("cssrs", "high risk", "High risk."))
        ]
        open_id = _insert(connection, "safety_alert", patient_id=patient, result_id=results[0], raised_at=now)
        done_id = _insert(
            connection,
            "safety_alert",
            patient_id=patient,
            result_id=results[1],
            raised_at=now,
            acknowledged_at=now,
            acknowledged_by_id=user,
            action_taken="Called the patient",
        )
    upgrade()
    assert_schema_matches_models()
    with db.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, patient_id, source, high_risk, result_id, summary, action_taken "
                "FROM safety_alert ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (open_id, patient, "measure", False, results[0], "Item 9 above 0.", None),
        (done_id, patient, "measure", True, results[1], "High risk.", "Called the patient"),
    ]
    for statement in (
        "UPDATE safety_alert SET action_taken = 'rewritten' WHERE id = :id",
        "UPDATE safety_alert SET summary = 'moved' WHERE id = :open",
        "DELETE FROM safety_alert WHERE id = :open",
    ):
        with pytest.raises(DBAPIError, match="safety_alert"), db.engine.begin() as connection:
            connection.execute(text(statement), {"id": done_id, "open": open_id})
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE safety_alert SET acknowledged_at = :now, acknowledged_by_id = :user, "
                "actions = '[\"patient_contacted\"]', action_taken = 'Called her' WHERE id = :id"
            ),
            {"now": now, "user": user, "id": open_id},
        )
        session = _insert(
            connection,
            "therapy_session",
            patient_id=patient,
            kind="dosing",
            cycle=1,
            held_at=now,
            logged_by_id=user,
            created_at=now,
        )
        newest = _insert(
            connection,
            "safety_alert",
            patient_id=patient,
            source="adverse_event",
            high_risk=True,
            session_id=session,
            source_row_id=7,
            summary="Serious adverse event",
            raised_at=now,
        )
    assert newest > done_id
    with pytest.raises(DBAPIError), db.engine.begin() as connection:  # a second alert for the same event
        _insert(
            connection,
            "safety_alert",
            patient_id=patient,
            source="adverse_event",
            high_risk=True,
            session_id=session,
            source_row_id=7,
            summary="Again",
            raised_at=now,
        )
