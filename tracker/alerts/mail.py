"""Sending one e-mail over SMTP with Python's standard library (``smtplib``, ``email``): the settings, and a send
that raises ``MailError`` with a short reason the admin's page can show.

The messages this sends hold no health information (``tracker.alerts.notices`` writes them): no name, no record
number, no measure, only "an urgent alert needs you" and a link that asks for a sign-in.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

#: How the connection to the SMTP server is secured: none (a relay on the same machine or network), STARTTLS
#: (usually port 587), or TLS from the start (usually port 465).
SECURITY = ("none", "starttls", "tls")


class MailError(Exception):
    """The message was not handed to the SMTP server; the text says why (no secrets, no health information)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    username: str
    password: str
    timeout: float
    sender: str

    @property
    def configured(self) -> bool:
        return bool(self.host)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings:
        return cls(
            host=config["SMTP_HOST"],
            port=int(config["SMTP_PORT"]),
            security=config["SMTP_SECURITY"],
            username=config["SMTP_USERNAME"],
            password=config["SMTP_PASSWORD"] or "",
            timeout=float(config["SMTP_TIMEOUT_SECONDS"]),
            sender=config["MAIL_FROM"],
        )


def message(settings: SmtpSettings, to: str, subject: str, body: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    mail.set_content(body)
    return mail


def send(settings: SmtpSettings, mail: EmailMessage) -> None:
    """Hand ``mail`` to the SMTP server. :raise MailError: with the reason, on any failure (refused, timed out,
    no connection, TLS or login failed)."""
    try:
        client: smtplib.SMTP
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.username:
                client.login(settings.username, settings.password)
            refused = client.send_message(mail)
        if refused:
            raise MailError(f"The server refused the address: {', '.join(sorted(refused))}")
    except MailError:
        raise
    except smtplib.SMTPResponseException as error:
        text = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        raise MailError(f"The SMTP server answered {error.smtp_code}: {text}"[:300]) from None
    except (smtplib.SMTPException, OSError) as error:
        raise MailError(f"{type(error).__name__}: {error}"[:300]) from None
