"""Model conventions that keep pages fast and data consistent."""

from __future__ import annotations

from sqlalchemy.orm import configure_mappers

from tracker.models import Base


def test_every_relationship_refuses_to_lazy_load():
    """A page that would run one query per row fails in tests instead of slowing down in the clinic."""
    configure_mappers()
    lazy = {
        f"{mapper.class_.__name__}.{rel.key}": rel.lazy
        for mapper in Base.registry.mappers
        for rel in mapper.relationships
        if rel.lazy not in ("raise_on_sql", "raise")
    }
    assert lazy == {}
