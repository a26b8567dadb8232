"""The renderer's pool of worker processes: reused, started with forkserver, given only HTML; a report made through
it is the same report."""

from __future__ import annotations

import os

import pytest

from tests.conftest import login
from tests.reports_data import pages, write_plan
from tracker.extensions import db
from tracker.reports import renderer


@pytest.fixture
def pooled(app):
    app.config["REPORT_WORKERS"] = 2
    try:
        yield
    finally:
        app.config["REPORT_WORKERS"] = 0


def _pid(_: str) -> int:
    return os.getpid()


def test_a_report_renders_in_the_pool(client, people, pooled):
    write_plan(people.patient, people.lead)
    db.session.commit()
    login(client, people.lead)
    response = client.get(f"/patients/{people.patient.id}/reports/plan.pdf")
    assert response.status_code == 200
    assert "Your integration plan" in pages(response.data)[0]


def test_the_pool_is_reused_and_runs_outside_this_process():
    pool = renderer.pool(2)
    assert renderer.pool(2) is pool
    pids = {pool.submit(_pid, "x").result() for _ in range(6)}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2
    pdfs = list(renderer.render_each([f"<p>document {n}</p>" for n in range(4)], 2))
    merged = pages(renderer.merge(pdfs))
    assert [text.strip() for text in merged] == [f"document {n}" for n in range(4)]


def _die(_: str) -> None:
    os._exit(1)


def test_a_dead_worker_is_replaced_by_a_new_pool():
    from concurrent.futures.process import BrokenProcessPool

    pool = renderer.pool(2)
    with pytest.raises(BrokenProcessPool):
        pool.submit(_die, "x").result()
    assert renderer.render("<p>again</p>", 2).startswith(b"%PDF")  # in a new pool
    assert renderer.pool(2) is not pool
    renderer.shutdown()


def test_a_batch_longer_than_a_pools_life_renders_whole_in_a_fresh_pool(monkeypatch):
    """Seen failing with ``max_tasks_per_child``: the pool stopped after its workers' quota, and the batch waited
    for the timeout (a 200-patient batch failed at 100 of 200)."""
    monkeypatch.setattr(renderer, "TASKS_PER_WORKER", 2)
    renderer.shutdown()
    first = renderer.pool(1)
    pdfs = list(renderer.render_each([f"<p>document {n}</p>" for n in range(7)], 1))
    assert [text.strip() for text in pages(renderer.merge(pdfs))] == [f"document {n}" for n in range(7)]
    assert renderer.pool(1) is not first  # retired after its quota; a fresh one took over
    renderer.shutdown()
