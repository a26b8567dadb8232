"""The audit trail as a hash chain per clinic: ``flask audit verify`` finds a row changed, removed or inserted behind
the triggers' back (they are switched off inside the test's transaction, as an attacker with the database's owner
rights or a copy of the SQLite file would), and concurrent writers to one clinic never fork the chain."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from config import TestConfig
from tests.databases import fresh_database
from tracker import audit, create_app
from tracker.auditchain import GENESIS, chain_rows, check_noted, row_hash, verify
from tracker.extensions import db
from tracker.models import AuditChainHead, AuditEvent, AuditHeadNote


@pytest.fixture
def trail(people) -> list[AuditEvent]:
    """Ten rows in the clinic's chain, written as the app writes them."""
    for number in range(10):
        audit.record(people.lead, "test.event", f"event {number}", patient=people.patient)
    db.session.commit()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.chain == people.clinic.id).order_by(AuditEvent.chain_seq)
        )
    )


@pytest.fixture
def unguarded() -> Iterator[None]:
    """The append-only triggers off, for this test's transaction only (rolled back with it)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        for name in ("audit_event_no_update", "audit_event_no_delete", "audit_event_no_replace"):
            db.session.execute(text(f"DROP TRIGGER {name}"))
    yield


def problems(kind: str | None = None) -> list[Any]:
    db.session.expire_all()
    found = [p for report in verify(db.session) for p in report.problems]
    return [p for p in found if kind is None or p.kind == kind]


def test_rows_are_chained_as_they_are_written(people, trail):
    assert [row.chain_seq for row in trail] == list(range(1, len(trail) + 1))
    assert trail[0].prev_hash == GENESIS or trail[0].chain_seq > 1
    for before, after in itertools.pairwise(trail):
        assert after.prev_hash == before.row_hash
    head = db.session.get(AuditChainHead, people.clinic.id)
    assert (head.last_seq, head.last_hash) == (trail[-1].chain_seq, trail[-1].row_hash)
    assert problems() == []


def test_a_changed_row_is_found(people, trail, unguarded):
    db.session.execute(text("UPDATE audit_event SET summary = 'nothing happened' WHERE id = :id"), {"id": trail[4].id})
    found = problems()
    assert [(p.kind, p.row_id) for p in found] == [("changed", trail[4].id)]


def test_a_changed_row_with_its_hash_recomputed_breaks_the_next_link(people, trail, unguarded):
    row = trail[4]
    values = {
        name: getattr(row, name)
        for name in (
            "created_at",
            "clinic_id",
            "actor_id",
            "action",
            "patient_id",
            "target_type",
            "target_id",
            "data",
            "ip",
        )
    }
    forged = row_hash({**values, "summary": "nothing happened"}, row.chain, row.chain_seq, row.prev_hash)
    db.session.execute(
        text("UPDATE audit_event SET summary = 'nothing happened', row_hash = :h WHERE id = :id"),
        {"id": row.id, "h": forged},
    )
    assert [(p.kind, p.row_id) for p in problems()] == [("inserted", trail[5].id)]  # the next row no longer follows


def test_a_removed_row_is_found(people, trail, unguarded):
    removed = trail[4].chain_seq
    db.session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": trail[4].id})
    found = problems()
    assert {p.kind for p in found} == {"missing"} and removed in {p.seq for p in found}


def test_removing_the_newest_rows_is_found_against_the_head(people, trail, unguarded):
    newest = [row.id for row in trail[-3:]]
    db.session.execute(text("DELETE FROM audit_event WHERE id IN (:a, :b, :c)"), dict(zip("abc", newest, strict=True)))
    assert [p.kind for p in problems()] == ["missing"]


def test_an_inserted_row_is_found_even_with_a_correct_hash(people, trail):
    """Appended with plain INSERT (the triggers allow inserts), chained correctly after the last row, but without
    the head: it lies beyond the head."""
    last = trail[-1]
    row = {
        "created_at": datetime.now(UTC),
        "clinic_id": people.clinic.id,
        "actor_id": people.lead.id,
        "action": "patient.view",
        "summary": "A read that never happened",
    }
    chain_rows([row], people.clinic.id, last.chain_seq, last.row_hash)
    db.session.execute(insert(AuditEvent).values(row))
    assert [p.kind for p in problems()] == ["inserted"]


def test_an_inserted_row_in_the_middle_is_found(people, trail, unguarded):
    """Slipped in between two rows by moving the later ones up a place: every moved row breaks."""
    db.session.execute(
        text("UPDATE audit_event SET chain_seq = chain_seq + 100 WHERE chain = :c AND chain_seq > 5"),
        {"c": people.clinic.id},
    )
    db.session.execute(
        text("UPDATE audit_event SET chain_seq = chain_seq - 99 WHERE chain = :c AND chain_seq > 100"),
        {"c": people.clinic.id},
    )
    row = {
        "created_at": datetime.now(UTC),
        "clinic_id": people.clinic.id,
        "actor_id": people.lead.id,
        "action": "patient.view",
        "summary": "A read that never happened",
    }
    chain_rows([row], people.clinic.id, trail[4].chain_seq, trail[4].row_hash)
    db.session.execute(insert(AuditEvent).values(row))
    kinds = {p.kind for p in problems()}
    assert "changed" in kinds


def test_the_command_reports_and_fails_on_tampering(app, people, trail, unguarded):
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["audit", "verify"])
    assert clean.exit_code == 0 and "0 problem(s)" in clean.output
    assert f"Chain {people.clinic.id} (clinic {people.clinic.id}): " in clean.output
    db.session.execute(text("UPDATE audit_event SET summary = 'x' WHERE id = :id"), {"id": trail[2].id})
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and f"CHANGED chain {people.clinic.id} position {trail[2].chain_seq}" in broken.output


def test_rows_of_no_clinic_have_a_chain_of_their_own(client, people):
    client.post("/login", data={"username": "nobody-has-this-name", "password": "whatever it was"})
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.clinic_id.is_(None)))
    assert row.chain == 0 and row.chain_seq >= 1
    assert problems() == []


# Concurrent writers -------------------------------------------------------------------------------------------

WRITERS = 4
ROWS_EACH = 40


def write_rows(url: str, clinic_id: int, start: Any, results: Any) -> None:
    """Worker, in a spawned process: ``ROWS_EACH`` transactions each adding two audit rows to one clinic."""
    errors: list[str] = []
    try:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            start.wait(timeout=60)
            for number in range(ROWS_EACH):
                try:
                    audit.record(None, "test.concurrent", f"row {number}a", clinic_id=clinic_id)
                    audit.record(None, "test.concurrent", f"row {number}b", clinic_id=clinic_id)
                    db.session.commit()
                except Exception as error:
                    db.session.rollback()
                    errors.append(f"{type(error).__name__}: {error}")
            db.engine.dispose()
    except Exception as error:
        errors.append(f"worker failed: {type(error).__name__}: {error}")
    results.put(errors)


def test_concurrent_writers_to_one_clinic_never_fork_the_chain():
    with fresh_database() as url:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():  # Core and own sessions only: db.session is the suite's (tests/conftest.py)
            upgrade()
            with db.engine.begin() as connection:
                clinic_id = connection.execute(
                    text("INSERT INTO clinic (name, created_at) VALUES ('C', :t) RETURNING id"),
                    {"t": datetime.now(UTC)},
                ).scalar_one()
            db.engine.dispose()
        context = multiprocessing.get_context("spawn")
        start, results = context.Barrier(WRITERS), context.Queue()
        workers = [context.Process(target=write_rows, args=(url, clinic_id, start, results)) for _ in range(WRITERS)]
        for worker in workers:
            worker.start()
        errors = [error for _ in workers for error in results.get(timeout=300)]
        for worker in workers:
            worker.join(timeout=60)
        assert errors == []
        with app.app_context(), Session(db.engine) as session:
            count = session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.chain == clinic_id))
            reports = verify(session)
        with app.app_context():
            db.engine.dispose()
        assert count == WRITERS * ROWS_EACH * 2
        assert [p for r in reports for p in r.problems] == []
        assert next(r for r in reports if r.chain == clinic_id).head_seq == count


def _truncate_and_rewind(people, trail, keep: int) -> tuple[int, str]:
    """Remove the newest rows and move the head back to the last one kept: a whole, shorter chain. Returns the
    removed head (position, hash)."""
    newest, kept = (trail[-1].chain_seq, trail[-1].row_hash), (trail[keep - 1].chain_seq, trail[keep - 1].row_hash)
    db.session.execute(
        text("DELETE FROM audit_event WHERE chain = :c AND chain_seq > :s"), {"c": people.clinic.id, "s": kept[0]}
    )
    db.session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.chain == people.clinic.id)
        .values(last_seq=kept[0], last_hash=kept[1])
    )
    return newest


def test_truncating_the_newest_rows_and_rewinding_the_head_is_found_against_noted_heads(app, people, trail, unguarded):
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["audit", "verify"])
    assert clean.exit_code == 0 and db.session.scalar(select(func.count(AuditHeadNote.id))) >= 1
    newest, _ = _truncate_and_rewind(people, trail, keep=7)
    assert problems() == []  # the chain alone looks whole
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"TRUNCATED chain {people.clinic.id} position {newest}" in broken.output


def test_the_worker_notes_the_heads_periodically(app, people, trail, unguarded):
    from tracker.housekeeping import tidy_security

    tidy_security()
    tidy_security()  # within the interval: no second note of the same head
    assert db.session.scalar(select(func.count(AuditHeadNote.id)).where(AuditHeadNote.chain == people.clinic.id)) == 1
    _truncate_and_rewind(people, trail, keep=5)
    assert [p.kind for p in check_noted(db.session)] == ["truncated"]


def test_heads_kept_outside_the_database_catch_a_truncation_that_removed_the_notes(app, people, trail, unguarded):
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["audit", "verify"])
    kept = clean.output.split("Keep for the next run: ", 1)[1].split()
    newest = _truncate_and_rewind(people, trail, keep=6)
    assert f"{people.clinic.id}:{newest[0]}:{newest[1]}" in kept
    db.session.execute(text("DELETE FROM audit_head_note"))
    assert runner.invoke(args=["audit", "verify", "--no-note"]).exit_code == 0
    broken = runner.invoke(args=["audit", "verify", *kept])
    assert broken.exit_code == 1 and "TRUNCATED" in broken.output
    assert runner.invoke(args=["audit", "verify", "--expect", "junk"]).exit_code == 2
