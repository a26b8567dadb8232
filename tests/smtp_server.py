"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd, in a thread), collecting what it receives; and the app
pointed at it for the length of a test."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask


@dataclass
class Received:
    """What the server was given: the envelope's recipients and the parsed message, per message."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpts, message in self.messages if address in rcpts]

    @property
    def addresses(self) -> list[str]:
        return sorted(a for rcpts, _ in self.messages for a in rcpts)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Received, int]]:
    received = Received()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield received, port
    finally:
        controller.stop()


MAIL_SETTINGS = (
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_SECURITY",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "MAIL_FROM",
    "BASE_URL",
    "SMTP_TIMEOUT_SECONDS",
)


@contextlib.contextmanager
def mail_to(app: Flask, port: int) -> Iterator[None]:
    """The app sends through 127.0.0.1:``port`` for the block (the suite's app is shared: restored afterwards)."""
    saved = {name: app.config[name] for name in MAIL_SETTINGS}
    app.config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_SECURITY="none",
        SMTP_USERNAME="",
        SMTP_PASSWORD=None,
        MAIL_FROM="care-tracker@clinic.example",
        BASE_URL="https://tracker.clinic.example",
        SMTP_TIMEOUT_SECONDS=5,
    )
    try:
        yield
    finally:
        app.config.update(saved)
