"""``python -m bench`` (``make bench``): seed (or reuse) the bench clinics, time every case at each size, print
the table and write ``bench/results.jsonl``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import CASES, SizeRun, rows, run_size
from bench.seed import DATA_DIR, ensure_database, summary

RESULTS = Path(__file__).resolve().parent / "results.jsonl"
#: The dashboard case whose growth from the small clinic to the large one is checked against a logarithm.
GROWTH_CASE = "supervisor dashboard"
#: Pages bounded by the user's caseload (about 500 patients for a supervisor at every size), not by the clinic:
#: at ten times the clinic each should cost at most ``CASELOAD_GROWTH`` times as much (p95).
CASELOAD_CASES = (
    "supervisor dashboard",
    "dashboard: one therapist + kind",
    "therapist's day",
    "patient list",
    "patient list search",
    "patient page",
    "audit page",
    "alert queue",
)
CASELOAD_GROWTH = 1.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--sizes",
        default="500,5000",
        help="clinic sizes in patients (default: 500,5000; add 50000 for the large clinic, about "
        "forty minutes to seed the first time each day)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed requests per case (default: per case)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    # Resolved: Flask-SQLAlchemy would read a relative SQLite path from instance/.
    results, failures = run(sizes, args.repeats, args.data_dir.resolve())
    extra = reports_rows()
    write(args.output, [*results, *extra])
    print()
    print(table([*results, *extra]))
    print()
    notes = closing_notes(results) + [f"FAILED: {failure}" for failure in failures]
    print("\n".join(notes))
    print(f"\nWrote {len(results) + len(extra)} rows to {args.output}")
    return 1 if failures else 0


def run(sizes: list[int], repeats: int | None, data_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Seed or reuse each clinic and time the cases; the JSON rows, and the cases that failed (not 200)."""
    out: list[dict[str, Any]] = []
    failures: list[str] = []
    for patients in sizes:
        started = time.perf_counter()
        database, seconds, counts = ensure_database(patients, data_dir)
        if seconds is None:
            print(f"{patients:,} patients: reusing {database.name}")
        else:
            print(f"{patients:,} patients: seeded in {seconds:.1f} s ({summary(counts)})")
        size_run: SizeRun = run_size(database, patients, CASES, repeats)
        failures += [f"{patients}: {case.name}: {why}" for case, why in size_run.skipped if why.startswith("FAILED")]
        out.extend(rows(size_run))
        print(f"  ({time.perf_counter() - started:.0f} s for this size)")
    return out, failures


def reports_rows() -> list[dict[str, Any]]:
    """The PDF engineer's own figures (``bench/reports_bench.py``, rendering in worker processes), if present."""
    if importlib.util.find_spec("bench.reports_bench") is None:
        return []
    module = importlib.import_module("bench.reports_bench")
    found: list[dict[str, Any]] = module.report_rows()
    return found


def write(path: Path, results: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in results))


def table(results: list[dict[str, Any]]) -> str:
    header = f"{'case':36} {'patients':>8} {'p50 ms':>8} {'p95 ms':>8} {'SQL':>5} {'peak MB':>8} {'ratio':>6}  target"
    lines = [header, "-" * len(header)]
    for row in results:
        target = row.get("target_ms")
        p95 = row.get("p95_ms")
        judged = row.get(row.get("target_on", "p95_ms"))
        met = (
            "-"
            if target is None or judged is None
            else "met"
            if judged <= target
            else f"MISSED by {judged - target:.0f} ms"
        )
        lines.append(
            f"{str(row.get('case'))[:36]:36} {_fmt(row.get('patients'), ',')} {_fmt(row.get('p50_ms'), '.1f')} "
            f"{_fmt(p95, '.1f')} {_fmt(row.get('queries'), 'd', 5)} {_fmt(row.get('peak_mb'), '.2f')} "
            f"{_fmt(row.get('ratio_to_baseline'), '.1f', 6)}  {met}"
        )
    return "\n".join(lines)


def _fmt(value: Any, spec: str, width: int = 8) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def closing_notes(results: list[dict[str, Any]]) -> list[str]:
    """Constant SQL per case across sizes, the dashboard's growth against a logarithm, and missed targets."""
    notes = []
    by_case: dict[str, dict[int, dict[str, Any]]] = {}
    for row in results:
        by_case.setdefault(row["case"], {})[row["patients"]] = row
    sizes = sorted({row["patients"] for row in results})
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        for case, at in by_case.items():
            if small in at and large in at:
                same = at[small]["queries"] == at[large]["queries"]
                notes.append(
                    f"SQL per request, {case}: {at[small]['queries']} at {small:,}, {at[large]['queries']} "
                    f"at {large:,} -> {'constant' if same else 'GROWS WITH THE CLINIC'}"
                )
        growth = by_case.get(GROWTH_CASE, {})
        if small in growth and large in growth:
            ratio = growth[large]["p50_ms"] / growth[small]["p50_ms"]
            bound = math.log(large) / math.log(small)
            verdict = "within" if ratio <= bound else "ABOVE"
            notes.append(
                f"Dashboard growth {small:,} -> {large:,} patients: p50 x{ratio:.2f} "
                f"({verdict} the logarithmic bound x{bound:.2f})"
            )
        else:
            notes.append("Dashboard growth: not measured (no dashboard on this build)")
        largest = [row for row in results if row["patients"] == large]
        notes += caseload_growth(by_case, sizes)
    else:
        largest = results
    for row in largest:
        on = row.get("target_on", "p95_ms")
        if row.get("target_ms") is not None and row[on] > row["target_ms"]:
            notes.append(
                f"Target missed: {row['case']} at {row['patients']:,} patients, {on[:3]} {row[on]:.0f} ms "
                f"is {row[on] - row['target_ms']:.0f} ms over {row['target_ms']:.0f} ms"
            )
    return notes


def caseload_growth(by_case: dict[str, dict[int, dict[str, Any]]], sizes: list[int]) -> list[str]:
    """Each caseload page's p95 at the largest clinic against the one ten times smaller (5,000 -> 50,000)."""
    large = sizes[-1]
    small = next((size for size in sizes if size * 10 == large), None)
    if small is None:
        return []
    notes = []
    for case in CASELOAD_CASES:
        at = by_case.get(case, {})
        if small in at and large in at:
            ratio = at[large]["p95_ms"] / at[small]["p95_ms"]
            verdict = "met" if ratio <= CASELOAD_GROWTH else "NOT MET"
            notes.append(
                f"Caseload page at {large:,} patients, {case}: p95 {at[large]['p95_ms']:.1f} ms, "
                f"x{ratio:.2f} its {small:,}-patient {at[small]['p95_ms']:.1f} ms "
                f"(at most x{CASELOAD_GROWTH}) -> {verdict}"
            )
    return notes


if __name__ == "__main__":
    sys.exit(main())
