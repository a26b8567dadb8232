"""Session notes with vitals, adverse events, signing, addenda and co-signature

Sessions gain their dosing cycle, planned length, location and the therapists present; users gain the
needs-co-signature flag. A signed note is immutable in the database itself: triggers on SQLite and PostgreSQL refuse
to UPDATE or DELETE a signed note, to add, change or remove the vital signs and adverse events of a signed note, and
to change its session or the therapists present. Addenda and co-signature decisions are append-only.

NB for later migrations: on SQLite, rebuilding one of these tables in batch mode drops its triggers; recreate them.

Revision ID: 78df14c25d46
Revises: 563a0012dc9b
Create Date: 2026-11-22 03:46:53.758503

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "78df14c25d46"
down_revision = "563a0012dc9b"
branch_labels = None
depends_on = None


#: Each non-preparation session's dosing cycle: how many dosing sessions of the patient come up to and including it
#: (by time, then id). Portable SQL (a correlated subquery), so it runs on SQLite and PostgreSQL alike.
BACKFILL_CYCLES = """
UPDATE therapy_session SET cycle = (
    SELECT count(*) FROM therapy_session AS d
     WHERE d.patient_id = therapy_session.patient_id AND d.kind = 'dosing'
       AND (COALESCE(d.held_at, d.scheduled_at) < COALESCE(therapy_session.held_at, therapy_session.scheduled_at)
            OR (COALESCE(d.held_at, d.scheduled_at) = COALESCE(therapy_session.held_at, therapy_session.scheduled_at)
                AND d.id <= therapy_session.id))
) WHERE kind <> 'preparation'
"""

SIGNED = "a signed note cannot be changed; add an addendum"

#: The rows whose note is found through a column: (table, column pointing at the note or session, how to find
#: whether that note is signed).
NOTE_ROWS = {"vital_reading": "note_id", "adverse_event": "note_id"}
SESSION_ROWS = {"session_therapist": "session_id"}
APPEND_ONLY = ("note_addendum", "cosign_decision")


def _note_signed(ref: str) -> str:
    return f"EXISTS (SELECT 1 FROM session_note WHERE id = {ref} AND signed_at IS NOT NULL)"


def _session_signed(ref: str) -> str:
    return f"EXISTS (SELECT 1 FROM session_note WHERE session_id = {ref} AND signed_at IS NOT NULL)"


def sqlite_triggers():
    def trigger(name, when, table, condition, message=SIGNED):
        return (
            f"CREATE TRIGGER {name} BEFORE {when} ON {table} WHEN {condition} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )

    statements = [
        trigger("session_note_signed_no_update", "UPDATE", "session_note", "OLD.signed_at IS NOT NULL"),
        trigger("session_note_signed_no_delete", "DELETE", "session_note", "OLD.signed_at IS NOT NULL"),
        trigger("therapy_session_signed_no_update", "UPDATE", "therapy_session", _session_signed("OLD.id")),
        trigger("therapy_session_signed_no_delete", "DELETE", "therapy_session", _session_signed("OLD.id")),
    ]
    for rows, signed in ((NOTE_ROWS, _note_signed), (SESSION_ROWS, _session_signed)):
        for table, column in rows.items():
            statements += [
                trigger(f"{table}_signed_no_insert", "INSERT", table, signed(f"NEW.{column}")),
                trigger(
                    f"{table}_signed_no_update",
                    "UPDATE",
                    table,
                    f"{signed(f'OLD.{column}')} OR {signed(f'NEW.{column}')}",
                ),
                trigger(f"{table}_signed_no_delete", "DELETE", table, signed(f"OLD.{column}")),
            ]
    for table in APPEND_ONLY:
        for when in ("UPDATE", "DELETE"):
            statements.append(trigger(f"{table}_no_{when.lower()}", when, table, "1", f"{table} is append-only"))
    return statements


def sqlite_trigger_names():
    names = [
        "session_note_signed_no_update",
        "session_note_signed_no_delete",
        "therapy_session_signed_no_update",
        "therapy_session_signed_no_delete",
    ]
    for table in (*NOTE_ROWS, *SESSION_ROWS):
        names += [f"{table}_signed_no_{when}" for when in ("insert", "update", "delete")]
    names += [f"{table}_no_{when}" for table in APPEND_ONLY for when in ("update", "delete")]
    return names


def _pg_rows_function(name, condition):
    """A trigger function refusing a write to a row that belongs to a signed note; ``condition`` takes the
    record (OLD or NEW) whose reference to check."""
    return f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                IF {condition("OLD")} THEN RAISE EXCEPTION '{SIGNED}'; END IF;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                IF {condition("NEW")} THEN RAISE EXCEPTION '{SIGNED}'; END IF;
                RETURN NEW;
            END IF;
            RETURN OLD;
        END $$"""


POSTGRESQL_FUNCTIONS = {
    "signed_note_immutable": f"""CREATE FUNCTION signed_note_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.signed_at IS NOT NULL THEN RAISE EXCEPTION '{SIGNED}'; END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$""",
    "signed_session_locked": f"""CREATE FUNCTION signed_session_locked() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {_session_signed("OLD.id")} THEN RAISE EXCEPTION '{SIGNED}'; END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$""",
    "signed_note_rows_locked": _pg_rows_function("signed_note_rows_locked", lambda r: _note_signed(f"{r}.note_id")),
    "signed_session_rows_locked": _pg_rows_function(
        "signed_session_rows_locked", lambda r: _session_signed(f"{r}.session_id")
    ),
    "append_only_row": """CREATE FUNCTION append_only_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$""",
}

#: (trigger name, table, events, function)
POSTGRESQL_TRIGGERS = [
    ("session_note_signed_immutable", "session_note", "UPDATE OR DELETE", "signed_note_immutable"),
    ("therapy_session_signed_locked", "therapy_session", "UPDATE OR DELETE", "signed_session_locked"),
    *((f"{t}_signed_locked", t, "INSERT OR UPDATE OR DELETE", "signed_note_rows_locked") for t in NOTE_ROWS),
    *((f"{t}_signed_locked", t, "INSERT OR UPDATE OR DELETE", "signed_session_rows_locked") for t in SESSION_ROWS),
    *((f"{t}_append_only", t, "UPDATE OR DELETE", "append_only_row") for t in APPEND_ONLY),
]


def create_triggers():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in sqlite_triggers():
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in POSTGRESQL_FUNCTIONS.values():
            op.execute(statement)
        for name, table, events, function in POSTGRESQL_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} BEFORE {events} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()")
    else:
        raise NotImplementedError(f"no signed-note triggers for {dialect}")


def drop_triggers():
    if op.get_bind().dialect.name == "sqlite":
        for name in sqlite_trigger_names():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    for name, table, _events, _function in POSTGRESQL_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for function in POSTGRESQL_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    # Sessions first: on SQLite adding CHECK constraints rebuilds the table, which must happen before other tables
    # reference it. Each non-preparation session gets the dosing cycle it belongs to (the count of dosing sessions
    # up to it) before the constraint that requires one.
    with op.batch_alter_table("therapy_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cycle", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("scheduled_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("location", sa.String(length=120), nullable=True))
    op.execute(BACKFILL_CYCLES)
    op.execute("UPDATE therapy_session SET cycle = 1 WHERE kind <> 'preparation' AND cycle = 0")
    with op.batch_alter_table("therapy_session", schema=None) as batch_op:
        batch_op.create_check_constraint("held_or_scheduled", "held_at IS NOT NULL OR scheduled_at IS NOT NULL")
        batch_op.create_check_constraint("cycle_unless_preparation", "(kind = 'preparation') = (cycle IS NULL)")
        batch_op.create_check_constraint("cycle_positive", "cycle IS NULL OR cycle >= 1")
        batch_op.create_check_constraint("duration_positive", "duration_minutes IS NULL OR duration_minutes > 0")
        batch_op.create_check_constraint(
            "scheduled_minutes_positive", "scheduled_minutes IS NULL OR scheduled_minutes > 0"
        )
        batch_op.create_index(
            "uq_therapy_session_dosing_cycle",
            ["patient_id", "cycle"],
            unique=True,
            sqlite_where=sa.text("kind = 'dosing'"),
            postgresql_where=sa.text("kind = 'dosing'"),
        )

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("needs_cosign", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table(
        "form_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_form_draft_patient_id_patient")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_form_draft_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_draft")),
    )
    with op.batch_alter_table("form_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_draft_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("uq_form_draft_user_key", ["user_id", "key"], unique=True)

    op.create_table(
        "process_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_process_note_author_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["therapy_session.id"], name=op.f("fk_process_note_session_id_therapy_session")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_note")),
    )
    with op.batch_alter_table("process_note", schema=None) as batch_op:
        batch_op.create_index("uq_process_note_session_author", ["session_id", "author_id"], unique=True)

    op.create_table(
        "session_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("substance", sa.String(length=80), nullable=True),
        sa.Column("dose_amount", sa.Float(), nullable=True),
        sa.Column(
            "dose_unit",
            sa.Enum("mg", "mg_per_kg", name="dose_unit", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("dose_total_mg", sa.Float(), nullable=True),
        sa.Column(
            "route",
            sa.Enum(
                "oral",
                "intravenous",
                "intramuscular",
                "intranasal",
                "sublingual",
                name="route",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("lot_number", sa.String(length=60), nullable=True),
        sa.Column("dose_given_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supplemental_mg", sa.Float(), nullable=True),
        sa.Column("supplemental_given_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("distress_baseline", sa.Integer(), nullable=True),
        sa.Column("distress_at_discharge", sa.Integer(), nullable=True),
        sa.Column("escort_name", sa.String(length=120), nullable=True),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("cosign_required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "dose_unit IS NULL OR dose_unit <> 'mg_per_kg' OR weight_kg IS NOT NULL",
            name=op.f("ck_session_note_weight_for_mg_per_kg"),
        ),
        sa.CheckConstraint(
            "(signed_at IS NULL) = (signed_by_id IS NULL) AND (signed_at IS NULL) = (content_sha256 IS NULL)",
            name=op.f("ck_session_note_signature_complete"),
        ),
        sa.CheckConstraint(
            "distress_at_discharge IS NULL OR distress_at_discharge BETWEEN 0 AND 10",
            name=op.f("ck_session_note_suds_discharge"),
        ),
        sa.CheckConstraint(
            "distress_baseline IS NULL OR distress_baseline BETWEEN 0 AND 10",
            name=op.f("ck_session_note_suds_baseline"),
        ),
        sa.CheckConstraint("dose_amount IS NULL OR dose_amount > 0", name=op.f("ck_session_note_dose_positive")),
        sa.CheckConstraint(
            "supplemental_mg IS NULL OR supplemental_mg > 0", name=op.f("ck_session_note_supplemental_positive")
        ),
        sa.CheckConstraint("weight_kg IS NULL OR weight_kg > 0", name=op.f("ck_session_note_weight_positive")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_session_note_author_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["therapy_session.id"], name=op.f("fk_session_note_session_id_therapy_session")
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_id"], ["user_account.id"], name=op.f("fk_session_note_signed_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["user_account.id"], name=op.f("fk_session_note_updated_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_note")),
        sa.UniqueConstraint("session_id", name=op.f("uq_session_note_session_id")),
    )
    with op.batch_alter_table("session_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_note_author_id"), ["author_id"], unique=False)

    op.create_table(
        "session_therapist",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["therapy_session.id"], name=op.f("fk_session_therapist_session_id_therapy_session")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_session_therapist_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("session_id", "user_id", name=op.f("pk_session_therapist")),
    )
    with op.batch_alter_table("session_therapist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_therapist_user_id"), ["user_id"], unique=False)

    op.create_table(
        "adverse_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("onset_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "severity",
            sa.Enum("mild", "moderate", "severe", name="severity", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("serious", sa.Boolean(), nullable=False),
        sa.Column("action_taken", sa.Text(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "recovered",
                "recovering",
                "not_recovered",
                "recovered_with_sequelae",
                "fatal",
                "unknown",
                name="outcome",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("rescue_medication", sa.String(length=120), nullable=True),
        sa.Column("rescue_dose", sa.String(length=60), nullable=True),
        sa.Column("rescue_given_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(rescue_medication IS NULL) = (rescue_dose IS NULL) AND (rescue_medication IS NULL) = (rescue_given_at IS NULL)",
            name=op.f("ck_adverse_event_rescue_complete"),
        ),
        sa.ForeignKeyConstraint(["note_id"], ["session_note.id"], name=op.f("fk_adverse_event_note_id_session_note")),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["user_account.id"], name=op.f("fk_adverse_event_recorded_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_event")),
    )
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_adverse_event_note_id"), ["note_id"], unique=False)

    op.create_table(
        "cosign_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("supervisor_id", sa.Integer(), nullable=False),
        sa.Column(
            "decision",
            sa.Enum("cosigned", "returned", name="decision", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision <> 'returned' OR comment IS NOT NULL", name=op.f("ck_cosign_decision_returned_with_comment")
        ),
        sa.ForeignKeyConstraint(["note_id"], ["session_note.id"], name=op.f("fk_cosign_decision_note_id_session_note")),
        sa.ForeignKeyConstraint(
            ["supervisor_id"], ["user_account.id"], name=op.f("fk_cosign_decision_supervisor_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cosign_decision")),
    )
    with op.batch_alter_table("cosign_decision", schema=None) as batch_op:
        batch_op.create_index("ix_cosign_decision_note_decided", ["note_id", "decided_at"], unique=False)

    op.create_table(
        "note_addendum",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signed_by_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["note_id"], ["session_note.id"], name=op.f("fk_note_addendum_note_id_session_note")),
        sa.ForeignKeyConstraint(
            ["signed_by_id"], ["user_account.id"], name=op.f("fk_note_addendum_signed_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_addendum")),
    )
    with op.batch_alter_table("note_addendum", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_note_addendum_note_id"), ["note_id"], unique=False)

    op.create_table(
        "vital_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("systolic", sa.Integer(), nullable=True),
        sa.Column("diastolic", sa.Integer(), nullable=True),
        sa.Column("heart_rate", sa.Integer(), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("spo2", sa.Integer(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "diastolic IS NULL OR diastolic BETWEEN 20 AND 200", name=op.f("ck_vital_reading_diastolic_plausible")
        ),
        sa.CheckConstraint(
            "heart_rate IS NULL OR heart_rate BETWEEN 20 AND 250", name=op.f("ck_vital_reading_heart_rate_plausible")
        ),
        sa.CheckConstraint("spo2 IS NULL OR spo2 BETWEEN 50 AND 100", name=op.f("ck_vital_reading_spo2_plausible")),
        sa.CheckConstraint(
            "systolic IS NOT NULL OR diastolic IS NOT NULL OR heart_rate IS NOT NULL OR temperature IS NOT NULL OR spo2 IS NOT NULL",
            name=op.f("ck_vital_reading_has_a_value"),
        ),
        sa.CheckConstraint(
            "systolic IS NULL OR diastolic IS NULL OR systolic > diastolic",
            name=op.f("ck_vital_reading_systolic_above_diastolic"),
        ),
        sa.CheckConstraint(
            "systolic IS NULL OR systolic BETWEEN 50 AND 300", name=op.f("ck_vital_reading_systolic_plausible")
        ),
        sa.CheckConstraint(
            "temperature IS NULL OR temperature BETWEEN 30 AND 45", name=op.f("ck_vital_reading_temperature_plausible")
        ),
        sa.ForeignKeyConstraint(["note_id"], ["session_note.id"], name=op.f("fk_vital_reading_note_id_session_note")),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["user_account.id"], name=op.f("fk_vital_reading_recorded_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_reading")),
    )
    with op.batch_alter_table("vital_reading", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vital_reading_note_id"), ["note_id"], unique=False)

    # ### end Alembic commands ###
    create_triggers()


def downgrade():
    drop_triggers()
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("vital_reading", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vital_reading_note_id"))

    op.drop_table("vital_reading")
    with op.batch_alter_table("note_addendum", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_addendum_note_id"))

    op.drop_table("note_addendum")
    with op.batch_alter_table("cosign_decision", schema=None) as batch_op:
        batch_op.drop_index("ix_cosign_decision_note_decided")

    op.drop_table("cosign_decision")
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adverse_event_note_id"))

    op.drop_table("adverse_event")
    with op.batch_alter_table("session_therapist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_therapist_user_id"))

    op.drop_table("session_therapist")
    with op.batch_alter_table("session_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_note_author_id"))

    op.drop_table("session_note")
    with op.batch_alter_table("process_note", schema=None) as batch_op:
        batch_op.drop_index("uq_process_note_session_author")

    op.drop_table("process_note")
    with op.batch_alter_table("form_draft", schema=None) as batch_op:
        batch_op.drop_index("uq_form_draft_user_key")
        batch_op.drop_index(batch_op.f("ix_form_draft_patient_id"))

    op.drop_table("form_draft")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("needs_cosign")

    with op.batch_alter_table("therapy_session", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_therapy_session_dosing_cycle",
            sqlite_where=sa.text("kind = 'dosing'"),
            postgresql_where=sa.text("kind = 'dosing'"),
        )
        for name in (
            "held_or_scheduled",
            "cycle_unless_preparation",
            "cycle_positive",
            "duration_positive",
            "scheduled_minutes_positive",
        ):
            batch_op.drop_constraint(batch_op.f(f"ck_therapy_session_{name}"), type_="check")
        batch_op.drop_column("location")
        batch_op.drop_column("scheduled_minutes")
        batch_op.drop_column("cycle")
    # ### end Alembic commands ###
