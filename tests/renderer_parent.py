"""``python -m tests.renderer_parent``: start the renderer's pool, render once, print the workers' pids on one line,
then wait to be killed (tests/test_renderer_lifetime.py)."""

from __future__ import annotations

import os
import time

from tracker.reports import renderer


def _pid(_: str) -> int:
    return os.getpid()


def main() -> None:
    pool = renderer.pool(2)
    renderer.render("<p>warm</p>", 2)
    pids = {pool.submit(_pid, "x").result() for _ in range(8)}
    print(" ".join(str(pid) for pid in sorted(pids)), flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main()
