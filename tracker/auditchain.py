"""The audit trail as a hash chain per clinic: each row holds the SHA-256 of its own content and of the row before it
in its clinic's chain, so a row changed, removed or slipped in afterwards breaks the chain where it happened, even
when the database triggers that refuse such writes were bypassed (a copied and edited SQLite file, a superuser).

Rows are chained when they are flushed (a SQLAlchemy ``before_flush`` hook: every writer, ``tracker.audit.record``
and anything else that adds an ``AuditEvent`` through the ORM, gets it). Each chain has a head row
(``audit_chain_head``: last position and last hash). A writer reads the head with ``SELECT ... FOR UPDATE``, so on
PostgreSQL concurrent writers to one clinic queue on that row until the first commits, and never both continue from
the same row (the unique ``(chain, chain_seq)`` would refuse a fork anyway); SQLite has one writer at a time already
(``BEGIN IMMEDIATE``, tracker/database.py).

``verify`` walks every chain: a changed row no longer matches its hash, a removed one leaves a gap and a broken link,
a row inserted at the end lies beyond the head. The newest rows removed together with a rewind of the head leave a
chain that is whole but shorter; that is found by comparing with heads noted earlier: ``note_heads`` writes each
chain's head to ``audit_head_note`` (``flask audit verify`` after a clean check, and the worker every
``AUDIT_HEAD_NOTE_MINUTES``), and ``verify`` reports a noted row that is gone or has another hash. Whoever can also
delete those notes is caught only by heads kept outside the database: ``flask audit verify`` prints them as
``--expect CHAIN:SEQ:HASH`` arguments to pass back next time.

Canonical JSON with sorted keys and no whitespace (RFC 8785's idea, not its full number rules: the trail holds no
floats that would need them), so two fields can never run into each other as OpenEMR's concatenated fields could.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, insert, inspect, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tracker.database import AnySession
from tracker.models import AuditChainHead, AuditEvent, AuditHeadNote
from tracker.models.base import utcnow

#: The ``prev_hash`` of the first row of a chain.
GENESIS = "0" * 64
#: The chain of rows that belong to no clinic (failed sign-ins with an unknown name).
NO_CLINIC = 0

#: The columns a row's hash covers, besides its chain position and the previous hash.
HASHED = (
    "created_at",
    "clinic_id",
    "actor_id",
    "action",
    "patient_id",
    "target_type",
    "target_id",
    "summary",
    "data",
    "ip",
)


def chain_of(clinic_id: int | None) -> int:
    return clinic_id if clinic_id is not None else NO_CLINIC


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return value


def canonical(values: Mapping[str, Any]) -> str:
    return json.dumps(
        {key: _plain(value) for key, value in values.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def row_hash(values: Mapping[str, Any], chain: int, seq: int, prev_hash: str) -> str:
    """SHA-256 of a row's content (``HASHED`` taken from ``values``), its place in its chain and the previous hash."""
    content = {name: values.get(name) for name in HASHED}
    content.update(chain=chain, chain_seq=seq, prev_hash=prev_hash)
    return hashlib.sha256(canonical(content).encode()).hexdigest()


def normalised_data(data: Any) -> Any:
    """``data`` as it will read back from the JSON column (string keys, plain values), so the hash taken before the
    insert is the hash of what is stored."""
    if data is None:
        return None
    return json.loads(json.dumps(data, default=_plain))


# Chaining at flush time ----------------------------------------------------------------------------------------


def _lock_head(db: Session, chain: int) -> AuditChainHead:
    """The chain's head, locked for this transaction (created on a chain's first row)."""
    head = db.scalar(select(AuditChainHead).where(AuditChainHead.chain == chain).with_for_update())
    if head is None:
        # Two first writers of a new clinic may both get here: one inserts, the other's insert does nothing.
        dialect = db.get_bind().dialect.name
        statement: Any = insert(AuditChainHead)
        if dialect == "postgresql":
            statement = postgresql.insert(AuditChainHead).on_conflict_do_nothing()
        elif dialect == "sqlite":
            statement = sqlite.insert(AuditChainHead).on_conflict_do_nothing()
        db.execute(statement.values(chain=chain, last_seq=0, last_hash=GENESIS))
        head = db.scalar(
            select(AuditChainHead)
            .where(AuditChainHead.chain == chain)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    assert head is not None
    return head


def chain_new_rows(db: Session) -> None:
    """Give every audit row pending in ``session`` its chain, position and hashes, in the order they were recorded,
    moving each chain's head along."""
    pending = sorted(
        (row for row in db.new if isinstance(row, AuditEvent)), key=lambda row: inspect(row).insert_order or 0
    )
    if not pending:
        return
    with db.no_autoflush:
        by_chain: dict[int, list[AuditEvent]] = {}
        for row in pending:
            by_chain.setdefault(chain_of(row.clinic_id), []).append(row)
        for chain in sorted(by_chain):  # one lock order for every writer
            head = _lock_head(db, chain)
            for row in by_chain[chain]:
                row.created_at = row.created_at or utcnow()
                row.data = normalised_data(row.data)
                seq = head.last_seq + 1
                row.chain, row.chain_seq, row.prev_hash = chain, seq, head.last_hash
                row.row_hash = row_hash(_values(row), chain, seq, head.last_hash)
                head.last_seq, head.last_hash = seq, row.row_hash


def _values(row: AuditEvent) -> dict[str, Any]:
    return {name: getattr(row, name) for name in HASHED}


def install() -> None:
    """Chain audit rows in every ORM session of this process (called once by ``create_app``)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)


def _before_flush(db: Session, _context: Any, _instances: Any) -> None:
    chain_new_rows(db)


# Bulk writers (the bench's seeder) -----------------------------------------------------------------------------


def chain_rows(rows: list[dict[str, Any]], chain: int, last_seq: int = 0, last_hash: str = GENESIS) -> tuple[int, str]:
    """Fill ``chain``, ``chain_seq``, ``prev_hash`` and ``row_hash`` of plain row dicts about to be bulk-inserted,
    in list order; returns the new head (last position, last hash)."""
    for row in rows:
        row["data"] = normalised_data(row.get("data"))
        last_seq += 1
        row.update(chain=chain, chain_seq=last_seq, prev_hash=last_hash)
        row["row_hash"] = last_hash = row_hash(row, chain, last_seq, row["prev_hash"])
    return last_seq, last_hash


# Verification --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    chain: int
    seq: int | None
    row_id: int | None
    kind: str  # changed | missing | inserted | head | truncated
    detail: str

    def __str__(self) -> str:
        where = f"chain {self.chain}" + (f" position {self.seq}" if self.seq is not None else "")
        row = f" (row #{self.row_id})" if self.row_id is not None else ""
        return f"{self.kind.upper()} {where}{row}: {self.detail}"


@dataclass(frozen=True)
class ChainReport:
    chain: int
    rows: int
    head_seq: int
    head_hash: str
    problems: list[Problem]


def _rows(db: AnySession, chain: int, batch: int) -> Iterator[Any]:
    """The chain's rows in order, as plain rows (no ORM objects pile up in the session), ``batch`` per query."""
    table = AuditEvent.__table__
    after = 0
    while True:
        found = (
            db.execute(
                select(table)
                .where(table.c.chain == chain, table.c.chain_seq > after)
                .order_by(table.c.chain_seq)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not found:
            return
        yield from found
        after = found[-1]["chain_seq"]


def verify_chain(db: AnySession, chain: int, head: tuple[int, str], batch: int = 1000) -> ChainReport:
    """Walk one chain from its first row and compare its end with ``head`` (last position, last hash)."""
    problems: list[Problem] = []
    expected_seq, prev, count = 1, GENESIS, 0
    head_seq, head_hash = head
    for row in _rows(db, chain, batch):
        count += 1
        seq, row_id = row["chain_seq"], row["id"]
        if seq != expected_seq:
            problems.append(
                Problem(chain, expected_seq, None, "missing", f"positions {expected_seq} to {seq - 1} are gone")
            )
        if row["prev_hash"] != prev:
            problems.append(
                Problem(
                    chain,
                    seq,
                    row_id,
                    "missing" if seq != expected_seq else "inserted",
                    "does not follow the row before it in the chain",
                )
            )
        if row_hash(row, chain, seq, row["prev_hash"]) != row["row_hash"]:
            problems.append(Problem(chain, seq, row_id, "changed", "its content no longer matches its hash"))
        if seq > head_seq:
            problems.append(Problem(chain, seq, row_id, "inserted", "lies beyond the chain's head"))
        expected_seq, prev = seq + 1, row["row_hash"]
    if expected_seq - 1 < head_seq:
        problems.append(
            Problem(
                chain, head_seq, None, "missing", f"the head says {head_seq} rows, the chain ends at {expected_seq - 1}"
            )
        )
    elif expected_seq - 1 == head_seq and prev != head_hash:
        problems.append(Problem(chain, head_seq, None, "head", "the last row's hash differs from the head's"))
    return ChainReport(chain, count, head_seq, head_hash, problems)


def verify(db: AnySession, batch: int = 1000) -> list[ChainReport]:
    """Check every chain (each clinic's, and the rows of no clinic) from its first row to its head."""
    heads = {row.chain: (row.last_seq, row.last_hash) for row in db.execute(select(AuditChainHead.__table__))}
    chains = set(heads) | set(db.scalars(select(AuditEvent.chain).distinct()))
    return [verify_chain(db, chain, heads.get(chain, (0, GENESIS)), batch) for chain in sorted(chains)]


# Noted heads: truncation of the newest rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Noted:
    """A chain's head as noted at some moment: the row at ``seq`` must still be there with ``row_hash``."""

    chain: int
    seq: int
    row_hash: str

    def __str__(self) -> str:
        return f"{self.chain}:{self.seq}:{self.row_hash}"

    @classmethod
    def parse(cls, text: str) -> Noted:
        """``CHAIN:SEQ:HASH`` as ``flask audit verify`` prints it. :raise ValueError: anything else."""
        chain, seq, row_hash = text.strip().split(":")
        if len(row_hash) != 64 or any(c not in "0123456789abcdef" for c in row_hash):
            raise ValueError("the hash must be 64 hexadecimal digits")
        return cls(int(chain), int(seq), row_hash)


def note_heads(db: AnySession, now: datetime, every: timedelta | None = None) -> int:
    """Note each chain's current head (``every``: only chains whose newest note is older than that and whose head
    moved since). Returns how many were noted; the caller commits."""
    heads = db.execute(select(AuditChainHead.chain, AuditChainHead.last_seq, AuditChainHead.last_hash)).all()
    latest = {
        row.chain: row
        for row in db.execute(
            select(
                AuditHeadNote.chain,
                func.max(AuditHeadNote.seq).label("seq"),
                func.max(AuditHeadNote.noted_at).label("noted_at"),
            ).group_by(AuditHeadNote.chain)
        )
    }
    noted = 0
    for chain, seq, last_hash in heads:
        before = latest.get(chain)
        if seq == 0 or (before is not None and before.seq >= seq):
            continue
        if every is not None and before is not None and before.noted_at > now - every:
            continue
        db.add(AuditHeadNote(chain=chain, seq=seq, row_hash=last_hash, noted_at=now))
        noted += 1
    return noted


def check_noted(db: AnySession, expected: Sequence[Noted] = ()) -> list[Problem]:
    """Noted heads (the table's and ``expected``, given by the operator) whose row is gone or has another hash: the
    chain was cut back, or rewritten, after they were noted. One query for the table, one per ``expected``."""
    table = AuditEvent.__table__
    rows = db.execute(
        select(AuditHeadNote.chain, AuditHeadNote.seq, AuditHeadNote.row_hash, table.c.row_hash.label("now"))
        .outerjoin(table, (table.c.chain == AuditHeadNote.chain) & (table.c.chain_seq == AuditHeadNote.seq))
        .where(or_(table.c.id.is_(None), table.c.row_hash != AuditHeadNote.row_hash))
        .order_by(AuditHeadNote.chain, AuditHeadNote.seq)
    ).all()
    found = [(Noted(r.chain, r.seq, r.row_hash), r.now) for r in rows]
    for note in expected:
        now = db.scalar(select(table.c.row_hash).where(table.c.chain == note.chain, table.c.chain_seq == note.seq))
        if now != note.row_hash:
            found.append((note, now))
    return [
        Problem(
            note.chain,
            note.seq,
            None,
            "truncated",
            "a head noted earlier is gone: the newest rows were removed"
            if now is None
            else "a head noted earlier has another hash now: the chain was rewritten",
        )
        for note, now in found
    ]
