"""Failed sign-ins counted per account name (and per client address), shared by every worker and host."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.models.base import Base, UTCDateTime


class LoginThrottle(Base):
    """One counter per key (``account:<name>`` or ``address:<ip>``) for the window that began at its first
    failure; a failure after the window has passed starts a new one."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int]
