"""HTML string in, PDF bytes out: the only place WeasyPrint runs.

Rendering takes about half a second of CPU per clinical document (measured here: ``python -m bench.reports_bench``), so
it runs with no
database transaction open (the callers commit first) and, when ``REPORT_WORKERS`` is above zero, in a small pool
of reused worker processes: started once per process with ``forkserver`` (never a fork of a process holding
database connections), recycled after ``TASKS_PER_WORKER`` documents so WeasyPrint's memory creep stays bounded,
given nothing but HTML strings, and never outliving the process that started them: each watches its parent and
exits when it dies, however it died (a SIGKILL runs no clean-up; tests/test_renderer_lifetime.py).
``REPORT_WORKERS = 0`` renders in the calling process (tests, the CLI).

This module imports neither the app nor the models, so a worker holds only WeasyPrint.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.process
import os
import resource
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from io import BytesIO
from typing import TypeVar

from pypdf import PdfWriter
from weasyprint import HTML

from tracker.reports.fetcher import BASE_URL, AssetOnlyFetcher

#: The pool is replaced after this many documents per worker (WeasyPrint's memory creeps from render to render).
TASKS_PER_WORKER = 100
#: The longest one document may take in the pool (a summary takes about half a second).
RENDER_TIMEOUT_SECONDS = 120

_T = TypeVar("_T")

_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_submitted = 0  # documents given to the current pool
_pool_lock = threading.Lock()
_niceness = 0  # how much lower the renderers run than the process that starts them (``set_niceness``)


def set_niceness(niceness: int) -> None:
    """Run this process's renderers ``niceness`` steps below it (``nice``): the worker's batches give way to the
    pages clinicians wait for, while the worker itself, which takes the database's write lock for its bookkeeping
    and housekeeping, keeps the web's priority (a starved process holding SQLite's one write lock would make every
    sign-in wait for it)."""
    global _niceness
    _niceness = niceness


def render_pdf(html: str) -> bytes:
    """Render one document in this process, fetching nothing but the bundled assets."""
    pdf: bytes = HTML(string=html, base_url=BASE_URL, url_fetcher=AssetOnlyFetcher()).write_pdf()
    return pdf


def _render_measured(html: str) -> tuple[bytes, int]:
    """``render_pdf`` plus the worker's peak RSS in kB so far (the bench reads it)."""
    return render_pdf(html), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _start_worker(niceness: int = 0) -> None:
    """In each new worker: take its CPU priority, exit as soon as the process that started the pool is gone, then
    warm up (import and lay out once, so the first real document does not pay for it)."""
    if niceness:
        os.nice(niceness)
    parent = multiprocessing.parent_process()  # its sentinel closes when the parent exits, even by SIGKILL
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    render_pdf("<p>warm</p>")


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()
    os._exit(0)


def pool(workers: int) -> ProcessPoolExecutor:
    """The process's pool of ``workers`` renderers, created on first use and reused until it is retired."""
    with _pool_lock:
        return _current(workers)


def _current(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_size, _submitted
    if _pool is None or _pool_size != workers:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_start_worker,
            initargs=(_niceness,),
        )
        _pool_size, _submitted = workers, 0
    return _pool


def submit(function: Callable[[str], _T], html: str, workers: int) -> Future[_T]:
    """Hand one document to the pool. Once a pool has been given ``TASKS_PER_WORKER`` documents per worker it is
    retired: it finishes what it holds, its processes exit, and the next document starts a fresh pool. (Not
    ``max_tasks_per_child``: on Python 3.11 a pool using it stops taking work once its first worker retires, so a
    batch past the limit waited for the timeout.)"""
    global _pool, _submitted
    with _pool_lock:
        executor = _current(workers)
        future = executor.submit(function, html)
        _submitted += 1
        if _submitted >= TASKS_PER_WORKER * workers:
            executor.shutdown(wait=False)  # queued documents still render; then the processes exit
            _pool = None
        return future


def shutdown() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


atexit.register(shutdown)


def _discard_broken_pool() -> None:
    """A worker died (killed for memory, say): the executor is unusable, so the next report starts a new one."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def render(html: str, workers: int) -> bytes:
    """One PDF, in the pool when ``workers`` > 0."""
    if workers <= 0:
        return render_pdf(html)
    try:
        return submit(render_pdf, html, workers).result(timeout=RENDER_TIMEOUT_SECONDS)
    except BrokenProcessPool:  # a worker died since the last report: once more, in a new pool
        _discard_broken_pool()
        return submit(render_pdf, html, workers).result(timeout=RENDER_TIMEOUT_SECONDS)


def render_each(
    documents: Sequence[str], workers: int, progress: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """Each document's PDF, in the order given, rendered in parallel by the pool (in process when ``workers`` is
    0). ``progress`` is told how many are done after each one."""
    if workers <= 0:
        for done, html in enumerate(documents, start=1):
            yield render_pdf(html)
            if progress:
                progress(done)
        return
    futures: list[Future[bytes]] = [submit(render_pdf, html, workers) for html in documents]
    try:
        for done, future in enumerate(futures, start=1):
            yield future.result(timeout=RENDER_TIMEOUT_SECONDS)
            if progress:
                progress(done)
    except BrokenProcessPool:
        _discard_broken_pool()
        raise
    finally:
        for future in futures:
            future.cancel()


def merge(pdfs: Sequence[bytes]) -> bytes:
    """One PDF holding every page of ``pdfs`` in order (each keeps its own "page N of M")."""
    if len(pdfs) == 1:
        return pdfs[0]
    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(BytesIO(pdf))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()
