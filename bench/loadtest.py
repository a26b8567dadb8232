"""``python -m bench.loadtest`` (``make loadtest``): many clinicians at once through a real server.

For each database (SQLite, then PostgreSQL): a fresh copy of the bench clinic (``bench/seed.py``, 5,000 patients),
the app under gunicorn with ``gunicorn.conf.py`` (production settings, sync workers) and ``flask worker`` beside it,
both on loopback; then Locust, headless (``bench/locustfile.py``), at each load level in turn: one request at a
time (``1``: every page in turn, the single-request figures), then 10, 25 and 50 concurrent users, each level for
a fixed time. Locust is bounded in users and time and sends requests to 127.0.0.1 only.

Prints, per level: each page's p50/p95/p99, errors and requests per second, the minimal signed-in page's figures
in the same run, then each target met or not; writes one JSON object per database, level and page to
``bench/load-results.jsonl``. Figures from a machine whose cores also run the load generator (and anyone else's
work) are lower bounds for a dedicated server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import loadplan, postgres
from bench.app import bench_app
from bench.harness import working_copy
from bench.seed import DATA_DIR, ensure_database, summary

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "load-results.jsonl"
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
SECRET = "load-benchmark-secret-key-0123456789abcdef"  # noqa: S105 - a throwaway server on loopback
#: Seconds at the start of a level left out of its figures: users signing in (the ramp-up).
RAMP_SECONDS = 5
STARTUP_SECONDS = 90

# Targets (the issue's): printed as met / not met, never asserted in tests.
MINIMAL = "minimal signed-in page"
RATIO_LIMIT = 10.0  # each HTML page's p95 over the minimal page's, one request at a time
P95_LIMIT_MS = 500.0  # every page's p95 at TARGET_USERS concurrent users
TARGET_USERS = 25
PDF_P50_MS = {"integration plan PDF": 100.0, "patient summary PDF": 300.0}
BATCH_LIMIT_MS = 5000.0
#: Named requests that are not pages: signing in, the batch's JSON polls and its start-to-ready time.
NOT_PAGES = ("sign in", "batch: progress", "batch of ")


@dataclass(frozen=True)
class Sample:
    name: str
    ms: float
    ok: bool


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (the value below which ``share`` of the samples fall)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def is_page(name: str) -> bool:
    return not name.startswith(NOT_PAGES) and not name.endswith("(warm-up)")


def is_html(name: str) -> bool:
    return is_page(name) and "PDF" not in name and "POST" not in name and "batch" not in name


def stats(samples: list[Sample], seconds: float, database: str, patients: int, users: int) -> list[dict[str, Any]]:
    """One row per request name (warm-up rounds left out), plus ``all requests``."""
    by_name: dict[str, list[Sample]] = {}
    for sample in samples:
        if not sample.name.endswith("(warm-up)"):
            by_name.setdefault(sample.name, []).append(sample)
    everything = [s for group in by_name.values() for s in group]
    rows: list[dict[str, Any]] = []
    for name, group in [*sorted(by_name.items()), ("all requests", everything)]:
        if not group:
            continue
        times = [s.ms for s in group]
        rows.append(
            {
                "database": database,
                "patients": patients,
                "users": users,
                "page": name,
                "requests": len(group),
                "errors": sum(not s.ok for s in group),
                "p50_ms": round(percentile(times, 0.50), 1),
                "p95_ms": round(percentile(times, 0.95), 1),
                "p99_ms": round(percentile(times, 0.99), 1),
                "req_per_s": round(len(group) / seconds, 2) if seconds > 0 else None,
                "seconds": round(seconds, 1),
            }
        )
    minimal = next((r for r in rows if r["page"] == MINIMAL), None)
    for row in rows:
        row["ratio_p95_to_minimal"] = round(row["p95_ms"] / minimal["p95_ms"], 1) if minimal else None
    return rows


def read_samples(path: Path, skip_before: float) -> tuple[list[Sample], float]:
    """The samples after the ramp-up, and the seconds they span."""
    kept, first, last = [], None, None
    if not path.exists():
        return [], 0.0
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["t"] < skip_before:
            continue
        kept.append(Sample(record["name"], record["ms"], record["ok"]))
        first = record["t"] if first is None else min(first, record["t"])
        last = record["t"] if last is None else max(last, record["t"])
    return kept, (last - first) if kept and first is not None and last is not None else 0.0


def left_out_errors(path: Path, skip_before: float) -> list[dict[str, Any]]:
    """The failed requests the figures leave out (warm-up rounds, the ramp-up): still errors, counted apart, so an
    error is never lost because it fell outside the timed window."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if not record["ok"] and (record["t"] < skip_before or record["name"].endswith("(warm-up)")):
            found.append(record)
    return found


# Serving -------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Server:
    base: str
    web_pid: int
    worker_pid: int


@contextlib.contextmanager
def served(database_url: str, directory: Path, port: int, workers: int | None) -> Iterator[Server]:
    """gunicorn (gunicorn.conf.py, production settings) and ``flask worker`` on ``database_url``."""
    env = {
        **os.environ,
        "TRACKER_ENV": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "JOB_QUEUE_URL": f"sqlite:///{directory / 'queue.sqlite'}",
        "TRACKER_BIND": f"127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
        "TRACKER_LOG_LEVEL": "warning",
        "BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("TEST_DATABASE_URL", None)
    if workers:
        env["TRACKER_WORKERS"] = str(workers)
    with (directory / "gunicorn.log").open("wb") as out:
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env={**env, "REPORT_WORKERS": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    with (directory / "worker.log").open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "tracker", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(port):
            if gunicorn.poll() is not None or worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the served app did not start:\n" + (directory / "gunicorn.log").read_text(errors="replace")[-3000:]
                )
            time.sleep(0.3)
        yield Server(base, gunicorn.pid, worker.pid)
    finally:
        _stop(worker)
        _stop(gunicorn)


# Where the processors went ----------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree_cpu(root: int) -> float:
    """Processor seconds used by ``root`` and its descendants, the ones still running and the ones already reaped
    (counted in their parent's children times: recycled gunicorn workers, finished renderers). Linux /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            parents[pid] = int(fields[1])
            times[pid] = sum(int(v) for v in fields[11:15]) / _TICK  # utime, stime, cutime, cstime
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(times.get(pid, 0.0) for pid in tree)


def machine_busy() -> tuple[float, float]:
    """(busy, total) processor seconds of the whole machine since boot (/proc/stat)."""
    with contextlib.suppress(OSError):
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        total = sum(values)
        return (total - values[3] - values[4]) / _TICK, total / _TICK
    return 0.0, 0.0


@dataclass(frozen=True)
class CpuShare:
    """Processors in use on average during a level (1.0 = one core busy all the time), by whom."""

    web: float
    worker: float
    load_generator: float
    others: float
    web_ms_per_request: float | None


def _healthy(port: int) -> bool:
    import http.client

    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def server_errors(directory: Path) -> list[str]:
    """Lines of the server's log at ERROR or worse, and any 5xx answer it logged."""
    found = []
    for line in (directory / "gunicorn.log").read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("level") in ("ERROR", "CRITICAL") or int(record.get("status") or 0) >= 500:
                    found.append(line[:300])
        elif "[ERROR]" in line or "[CRITICAL]" in line:
            found.append(line[:300])
    return found


# Running Locust ------------------------------------------------------------------------------------------------


def run_level(
    server: Server, plan_path: Path, users: int, seconds: int, rounds: int, directory: Path
) -> tuple[list[Sample], float, CpuShare, list[dict[str, Any]]]:
    """One level: ``users`` concurrent users for ``seconds`` (or, at 1, the sequential rounds)."""
    samples = directory / f"samples-{users}.jsonl"
    samples.unlink(missing_ok=True)
    sequential = users == 1
    limit = max(seconds, 600) if sequential else seconds
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        server.base,
        "-u",
        str(users),
        "-r",
        str(users if sequential else max(1, math.ceil(users / RAMP_SECONDS))),
        "-t",
        f"{limit}s",
        "--stop-timeout",
        "30",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "Sequential" if sequential else "Therapist",
        *([] if sequential else ["Supervisor"]),
    ]
    env = {**os.environ, "LOAD_PLAN": str(plan_path), "LOAD_SAMPLES": str(samples), "LOAD_ROUNDS": str(rounds)}
    started = time.time()
    before = (
        tree_cpu(server.web_pid),
        tree_cpu(server.worker_pid),
        resource.getrusage(resource.RUSAGE_CHILDREN),
        machine_busy(),
    )
    with (directory / f"locust-{users}.log").open("wb") as out:
        subprocess.run(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=limit + 120, check=False
        )
    wall = time.time() - started
    after = (
        tree_cpu(server.web_pid),
        tree_cpu(server.worker_pid),
        resource.getrusage(resource.RUSAGE_CHILDREN),
        machine_busy(),
    )
    found, span = read_samples(samples, 0 if sequential else started + RAMP_SECONDS)
    unseen = left_out_errors(samples, 0 if sequential else started + RAMP_SECONDS)
    web, worker = after[0] - before[0], after[1] - before[1]
    generator = (after[2].ru_utime + after[2].ru_stime) - (before[2].ru_utime + before[2].ru_stime)
    busy = after[3][0] - before[3][0]
    everything = len(_read_all(samples))
    share = CpuShare(
        web / wall,
        worker / wall,
        generator / wall,
        max(0.0, busy - web - worker - generator) / wall,
        web * 1000 / everything if everything else None,
    )
    return found, span, share, unseen


def _read_all(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def run_database(
    label: str,
    database_url: str,
    patients: int,
    levels: list[int],
    seconds: int,
    rounds: int,
    port: int | None,
    workers: int | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every level against one database; the rows and the server's error lines."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tracker-load-") as tmp:
        directory = Path(tmp)
        plan = loadplan.build(bench_app(database_url))
        plan_path = directory / "plan.json"
        loadplan.write(plan, plan_path)
        print(
            f"  {len(plan['therapists'])} therapists and {len(plan['supervisors'])} supervisors to sign in as; "
            f"batch: {plan['batch']['patients'] if plan['batch'] else 0} plans"
        )
        with served(database_url, directory, port or free_port(), workers) as server:
            for users in levels:
                samples, span, share, unseen = run_level(server, plan_path, users, seconds, rounds, directory)
                if not samples:
                    log = (directory / f"locust-{users}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"Locust recorded nothing at {users} users:\n{log}")
                level = stats(samples, span, label, patients, users)
                level[-1].update(
                    cpu_web=round(share.web, 2),
                    cpu_worker=round(share.worker, 2),
                    cpu_load_generator=round(share.load_generator, 2),
                    cpu_others=round(share.others, 2),
                    web_cpu_ms_per_request=round(share.web_ms_per_request or 0, 1),
                    errors_left_out=len(unseen),
                    errors_left_out_pages=sorted({f"{r['name']} ({r.get('status') or 'no answer'})" for r in unseen}),
                )
                rows.extend(level)
                print(level_table(level))
        errors = server_errors(directory)
    return rows, errors


# Report --------------------------------------------------------------------------------------------------------


def level_table(rows: list[dict[str, Any]]) -> str:
    first = rows[0]
    users = "one request at a time" if first["users"] == 1 else f"{first['users']} concurrent users"
    lines = [
        f"\n{first['database']}, {first['patients']:,} patients, {users} ({first['seconds']:.0f} s)",
        f"  {'page':40} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} "
        f"{'x min':>6}",
    ]
    for row in rows:
        lines.append(
            f"  {row['page'][:40]:40} {row['requests']:>8} {row['errors']:>6} {row['p50_ms']:>8.1f} "
            f"{row['p95_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['req_per_s'] or 0:>7.1f} "
            f"{row['ratio_p95_to_minimal'] or 0:>6.1f}"
        )
    last = rows[-1]
    if "cpu_web" in last:
        lines.append(
            f"  cores busy on average: web {last['cpu_web']:.2f} ({last['web_cpu_ms_per_request']:.0f} ms "
            f"a request), worker {last['cpu_worker']:.2f}, load generator {last['cpu_load_generator']:.2f}, "
            f"other processes on the machine {last['cpu_others']:.2f} (of {os.cpu_count()})"
        )
    if last.get("errors_left_out"):
        lines.append(
            f"  errors outside the timed requests (warm-up, ramp-up): {last['errors_left_out']}: "
            + ", ".join(last["errors_left_out_pages"])
        )
    return "\n".join(lines)


def verdicts(rows: list[dict[str, Any]]) -> list[tuple[bool, str]]:
    """Each target, met or not, with the figures that decide it."""
    out: list[tuple[bool, str]] = []
    databases = sorted({r["database"] for r in rows})
    for database in databases:
        mine = [r for r in rows if r["database"] == database]
        for users in sorted({r["users"] for r in mine}):
            total = next(r for r in mine if r["users"] == users and r["page"] == "all requests")
            failing = [
                f"{r['page']} ({r['errors']})"
                for r in mine
                if r["users"] == users and r["errors"] and r["page"] != "all requests"
            ]
            failing += [f"outside the timed requests: {page}" for page in total.get("errors_left_out_pages", [])]
            errors = total["errors"] + total.get("errors_left_out", 0)
            out.append(
                (
                    errors == 0,
                    f"{database}, {users} user(s): {errors} errors in "
                    f"{total['requests'] + total.get('errors_left_out', 0)} requests"
                    + (f": {', '.join(failing)}" if failing else ""),
                )
            )
        single = [
            r for r in mine if r["users"] == 1 and is_html(r["page"]) and r["page"] not in (MINIMAL, "all requests")
        ]
        for row in single:
            out.append(
                (
                    row["ratio_p95_to_minimal"] <= RATIO_LIMIT,
                    f"{database}, one at a time: {row['page']} p95 {row['p95_ms']:.0f} ms = "
                    f"{row['ratio_p95_to_minimal']:.1f}x the minimal page (at most {RATIO_LIMIT:.0f}x)",
                )
            )
        for page, limit in PDF_P50_MS.items():
            found = next((r for r in mine if r["users"] == 1 and r["page"] == page), None)
            if found:
                out.append(
                    (
                        found["p50_ms"] <= limit,
                        f"{database}, one at a time: {page} p50 {found['p50_ms']:.0f} ms (at most {limit:.0f} ms)",
                    )
                )
        for row in mine:
            if row["users"] == TARGET_USERS and is_page(row["page"]) and row["page"] != "all requests":
                out.append(
                    (
                        row["p95_ms"] <= P95_LIMIT_MS,
                        f"{database}, {TARGET_USERS} users: {row['page']} p95 "
                        f"{row['p95_ms']:.0f} ms (at most {P95_LIMIT_MS:.0f} ms)",
                    )
                )
        for row in mine:
            if row["page"].startswith("batch of "):
                out.append(
                    (
                        row["p95_ms"] <= BATCH_LIMIT_MS and row["errors"] == 0,
                        f"{database}, {row['users']} users: {row['page']} {row['p95_ms'] / 1000:.1f} s "
                        f"(at most {BATCH_LIMIT_MS / 1000:.0f} s)" + (" FAILED" if row["errors"] else ""),
                    )
                )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadtest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--users", default="1,10,25,50", help="load levels; 1 is one request at a time")
    parser.add_argument("--seconds", type=int, default=60, help="time at each concurrent level (default 60)")
    parser.add_argument("--rounds", type=int, default=30, help="rounds of every page at level 1 (default 30)")
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LOADTEST_POSTGRES_URL", ""),
        help="a PostgreSQL database beside which the bench databases are made (default: "
        "$LOADTEST_POSTGRES_URL; without it a throwaway server is started)",
    )
    parser.add_argument("--port", type=int, default=None, help="port to serve on (default: a free one)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    levels = [int(u) for u in args.users.split(",") if u.strip()]
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for database in databases:
        with prepared(database, args.patients, args.data_dir.resolve(), args.postgres_url) as url:
            found, errors = run_database(
                database, url, args.patients, levels, args.seconds, args.rounds, args.port, args.workers
            )
        rows.extend(found)
        problems += [f"{database} server log: {line}" for line in errors]
    args.output.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print("\nTargets")
    judged = verdicts(rows)
    for met, text in judged:
        print(f"  {'met    ' if met else 'NOT MET'}  {text}")
    if problems:
        print(f"\n{len(problems)} error line(s) in the server logs, the first ten:")
        print("\n".join(f"  {p}" for p in problems[:10]))
    print(f"\nWrote {len(rows)} rows to {args.output} in {(time.monotonic() - started) / 60:.1f} minutes")
    return 0


@contextlib.contextmanager
def prepared(database: str, patients: int, data_dir: Path, postgres_url: str) -> Iterator[str]:
    """A fresh working copy of the bench clinic on ``database``; its URL, removed afterwards."""
    if database == "sqlite":
        path, seconds, counts = ensure_database(patients, data_dir)
        print(
            f"sqlite: {patients:,} patients "
            + (f"seeded in {seconds:.0f} s ({summary(counts)})" if seconds else f"(reusing {path.name})")
        )
        copy = working_copy(path)
        try:
            yield f"sqlite:///{copy}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
        return
    if database != "postgresql":
        raise SystemExit(f"unknown database {database!r}: sqlite or postgresql")
    with contextlib.ExitStack() as stack:
        raw = postgres_url or stack.enter_context(postgres.throwaway_server())
        url = postgres.parse(raw)
        template, seconds = postgres.ensure_seeded(url, patients)
        print(
            f"postgresql: {patients:,} patients "
            + (f"seeded in {seconds:.0f} s" if seconds is not None else f"(reusing {template})")
        )
        run_url = postgres.working_copy(url, template)
        try:
            yield run_url
        finally:
            postgres.drop(url, postgres.parse(run_url).database or "")


if __name__ == "__main__":
    sys.exit(main())
