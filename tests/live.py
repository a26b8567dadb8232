"""The app served by a subprocess on 127.0.0.1, for tests that need a real server: the browser tests and the
concurrent-clients test. ``python -m tests.browser.server`` migrates the fresh database it is given, seeds it,
prints its port and serves with threads until it is terminated."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60


class ServerFailed(RuntimeError):
    """The server did not start or answer; the message holds its log."""


@contextlib.contextmanager
def serve(database_url: str, log_path: Path, settings: dict[str, str] | None = None) -> Iterator[str]:
    """Yield the base URL of the app serving ``database_url`` (``settings``: more environment for the server, e.g.
    ``BROWSER_IDLE_TIMEOUT_SECONDS``); stop the server afterwards.

    :raise ServerFailed: it exited, or did not answer within ``STARTUP_SECONDS``.
    """
    with log_path.open("w") as log:
        env = {
            **os.environ,
            "TRACKER_ENV": "test",
            "BROWSER_TEST_DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
            **(settings or {}),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.browser.server"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()  # blocks until the port is printed or the process dies
            if not line.isdigit():
                process.wait(timeout=10)
                raise ServerFailed(f"the test server did not start:\n{log_path.read_text()}")
            base_url = f"http://127.0.0.1:{line}"
            _wait_until_up(base_url + "/login", process, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _wait_until_up(url: str, process: subprocess.Popen[str], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"the test server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http://127.0.0.1 URL
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise ServerFailed(f"the test server did not answer within {STARTUP_SECONDS}s:\n{log_path.read_text()}")
