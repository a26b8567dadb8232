"""A clinic (site). Every user and patient belongs to exactly one; nothing is shared between clinics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from tracker.models.base import Base, UTCDateTime, utcnow


class Clinic(Base):
    __tablename__ = "clinic"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Every therapist and supervisor signs in with a second factor (TOTP); those without one enrol at sign-in.
    require_two_factor: Mapped[bool] = mapped_column(Boolean, server_default=false())
    #: The therapeutic modalities its notes may name (``tracker.modalities``); NULL: the shipped defaults.
    modalities: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))

    def __repr__(self) -> str:
        return f"<Clinic {self.id} {self.name!r}>"
