"""The app served the production way for tests: gunicorn with several workers (gunicorn.conf.py), the background
worker (``flask worker``) and, for the distributed queue, a Redis server; plus a small HTTP client that keeps its
own cookies and CSRF tokens, and tells which gunicorn worker answered each request (from the request log)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.live import ROOT

SECRET = "served-test-secret-key-0123456789abcdef"
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """``TEST_REDIS_URL`` when CI started one; otherwise Debian's redis-server on a free loopback port."""
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    log = (directory / "redis.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{(directory / 'redis.log').read_text()}")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)
        log.close()


@dataclass
class Served:
    base: str
    port: int
    log_path: Path
    gunicorn: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    env: dict[str, str]

    def pids_by_request(self) -> dict[str, int]:
        """request id -> the pid of the gunicorn worker that answered it, read from the JSON request log."""
        found = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"tracker.request"' in line:
                record = json.loads(line)
                found[record["request_id"]] = record["pid"]
        return found

    def restart_worker(self, log: Path) -> None:
        """Kill the background worker outright (SIGKILL, mid-task) and start a new one."""
        self.worker.kill()
        self.worker.wait()
        self.worker = _start_worker(self.env, log)


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "tracker", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@contextlib.contextmanager
def serve(database_url: str, queue_url: str, directory: Path, workers: int = 4) -> Iterator[Served]:
    """gunicorn (production settings, ``workers`` sync workers) and ``flask worker`` on an already migrated
    database; stopped afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "TRACKER_ENV": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "JOB_QUEUE_URL": queue_url,
        "TRACKER_BIND": f"127.0.0.1:{port}",
        "TRACKER_WORKERS": str(workers),
        "PYTHONUNBUFFERED": "1",
        "REPORT_WORKERS": "1",
        "BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("TEST_DATABASE_URL", None)
    log_path = directory / "gunicorn.log"
    with log_path.open("wb") as out:
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env={**env, "REPORT_WORKERS": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    worker = _start_worker(env, directory / "worker.log")
    served = Served(f"http://127.0.0.1:{port}", port, log_path, gunicorn, worker, env)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while Client(served).get("/healthz").status != 200:
            if gunicorn.poll() is not None or worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the served app did not start:\n{log_path.read_text()}\n{(directory / 'worker.log').read_text()}"
                )
            time.sleep(0.2)
        yield served
    finally:
        _stop(served.worker)
        _stop(gunicorn)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    request_id: str

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> dict[str, object]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Client:
    """One browser: its cookies (sent over plain http although marked Secure: the test stands in for the TLS proxy),
    a new connection per request, so any gunicorn worker may answer each one."""

    served: Served
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.served.port, timeout=120)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
        except (ConnectionError, http.client.HTTPException, OSError) as error:
            return Answer(0, {}, str(error).encode(), "")
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        return Answer(response.status, answer_headers, data, answer_headers.get("x-request-id", ""))

    def get(self, path: str, **kwargs: object) -> Answer:
        return self.request("GET", path, **kwargs)  # type: ignore[arg-type]

    def csrf(self, path: str) -> str:
        page = self.get(path)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
        assert match, f"no CSRF token on {path}: {page.status}"
        return match.group(1)

    def login(self, username: str, password: str) -> Answer:
        token = self.csrf("/login")
        return self.request(
            "POST", "/login", form={"username": username, "password": password, "csrf_token": token, "next": ""}
        )
