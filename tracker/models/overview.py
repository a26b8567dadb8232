"""The clinic overview's figures as last computed, one row per clinic, shared by every web process
(``tracker.dashboard.overview``): counts only, no patient named."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from tracker.models.base import Base, UTCDateTime


class ClinicOverview(Base):
    __tablename__ = "clinic_overview"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), primary_key=True, autoincrement=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: ``tracker.dashboard.overview.encode``'s output; ``format`` inside tells an old shape from the current one.
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
