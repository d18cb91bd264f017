"""The ledger's rules, enforced where the data lives: triggers for SQLite and PostgreSQL.

What the triggers guarantee, whoever writes (the services, raw SQL, another program):

* an entry is inserted unposted; lines can only be added to an existing, unposted entry;
* the only change ever allowed to an entry is ``posted`` false -> true with nothing else
  changed, and it is refused unless the entry has at least two lines, they sum to exactly
  zero, and every line's account belongs to the entry's fund;
* lines are never updated or deleted, entries never deleted (nor truncated): the ledger is
  append-only and a correction is a reversing entry;
* an account's code, fund and kind never change (otherwise moving an account to another
  fund would silently move its balance, and its posted lines, with it);
* SQLite only: an amount is stored as an integer number of fen (PostgreSQL's BIGINT
  already refuses anything else, SQLite's column affinity would keep a REAL).

Every message starts with ``ledger:`` so a refusal is recognisable in logs and tests.

``models.py`` installs these statements after ``create_all`` creates ``journal_lines``
(the last of the three tables); the lead copies ``LEDGER_GUARD_DDL`` into the Alembic
migration (``op.execute`` each statement of the migration's dialect, after the tables) and
``LEDGER_GUARD_DROP_DDL`` into its downgrade. The SQL avoids ``%`` and ``:name`` so that
both ``sa.DDL`` and ``op.execute`` (which wraps text in ``sa.text``) take it verbatim.
"""
from __future__ import annotations

# The messages, shared by both dialects so services and tests can match them.
MSG_INSERT_POSTED = "ledger: an entry must be inserted unposted"
MSG_POSTED_IMMUTABLE = "ledger: a posted entry cannot be changed"
MSG_ONLY_POSTING = "ledger: the only change allowed to an entry is posting it"
MSG_TOO_FEW_LINES = "ledger: an entry needs at least two lines"
MSG_UNBALANCED = "ledger: entry does not balance"
MSG_OTHER_FUND = "ledger: a line account belongs to another fund"
MSG_LINE_CLOSED_ENTRY = "ledger: lines may only be added to an existing unposted entry"
MSG_LINE_NOT_FEN = "ledger: a line amount must be a whole number of fen"
MSG_ENTRIES_APPEND_ONLY = "ledger: journal_entries is append-only"
MSG_LINES_APPEND_ONLY = "ledger: journal_lines is append-only"
MSG_ACCOUNT_FIXED = "ledger: account code, fund and kind cannot change"

# Every column of journal_entries except ``posted`` (the one posting may change);
# tests/core/test_ledger.py proves each of them is guarded.
_ENTRY_COLUMNS = (
    "id",
    "fund",
    "entry_date",
    "memo",
    "source_type",
    "source_id",
    "reverses_id",
    "created_at",
    "created_by",
)
_SQLITE_ENTRY_CHANGED = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in _ENTRY_COLUMNS)

SQLITE_DDL: list[str] = [
    f"""CREATE TRIGGER ledger_entries_insert_guard BEFORE INSERT ON journal_entries
WHEN NEW.posted IS NOT 0
BEGIN
    SELECT RAISE(ABORT, '{MSG_INSERT_POSTED}');
END""",
    f"""CREATE TRIGGER ledger_entries_update_guard BEFORE UPDATE ON journal_entries
BEGIN
    SELECT RAISE(ABORT, '{MSG_POSTED_IMMUTABLE}') WHERE OLD.posted IS NOT 0;
    SELECT RAISE(ABORT, '{MSG_ONLY_POSTING}')
     WHERE NEW.posted IS NOT 1 OR {_SQLITE_ENTRY_CHANGED};
    SELECT RAISE(ABORT, '{MSG_TOO_FEW_LINES}')
     WHERE (SELECT count(*) FROM journal_lines WHERE entry_id = NEW.id) < 2;
    SELECT RAISE(ABORT, '{MSG_UNBALANCED}')
     WHERE (SELECT coalesce(sum(amount), 0) FROM journal_lines WHERE entry_id = NEW.id) <> 0;
    SELECT RAISE(ABORT, '{MSG_OTHER_FUND}')
     WHERE EXISTS (SELECT 1 FROM journal_lines AS l JOIN ledger_accounts AS a ON a.id = l.account_id
                    WHERE l.entry_id = NEW.id AND a.fund IS NOT NEW.fund);
END""",  # nosec B608  # DDL built from this module's constants, no outside input
    f"""CREATE TRIGGER ledger_entries_delete_guard BEFORE DELETE ON journal_entries
BEGIN
    SELECT RAISE(ABORT, '{MSG_ENTRIES_APPEND_ONLY}');
END""",
    f"""CREATE TRIGGER ledger_lines_insert_guard BEFORE INSERT ON journal_lines
BEGIN
    SELECT RAISE(ABORT, '{MSG_LINE_CLOSED_ENTRY}')
     WHERE coalesce((SELECT posted FROM journal_entries WHERE id = NEW.entry_id), 1) IS NOT 0;
    SELECT RAISE(ABORT, '{MSG_LINE_NOT_FEN}') WHERE typeof(NEW.amount) <> 'integer';
END""",  # nosec B608  # DDL built from this module's constants, no outside input
    f"""CREATE TRIGGER ledger_lines_update_guard BEFORE UPDATE ON journal_lines
BEGIN
    SELECT RAISE(ABORT, '{MSG_LINES_APPEND_ONLY}');
END""",
    f"""CREATE TRIGGER ledger_lines_delete_guard BEFORE DELETE ON journal_lines
BEGIN
    SELECT RAISE(ABORT, '{MSG_LINES_APPEND_ONLY}');
END""",
    f"""CREATE TRIGGER ledger_accounts_update_guard BEFORE UPDATE ON ledger_accounts
WHEN NEW.code IS NOT OLD.code OR NEW.fund IS NOT OLD.fund OR NEW.kind IS NOT OLD.kind
BEGIN
    SELECT RAISE(ABORT, '{MSG_ACCOUNT_FIXED}');
END""",
]

# PostgreSQL: SQLSTATE class 23 (integrity constraint violation), so drivers raise the same
# IntegrityError as SQLite's RAISE(ABORT) does. ``to_jsonb(NEW) - 'posted'`` compares every
# other column, including any added later.
POSTGRESQL_DDL: list[str] = [
    f"""CREATE OR REPLACE FUNCTION ledger_guard_entry_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.posted IS NOT FALSE THEN
        RAISE EXCEPTION '{MSG_INSERT_POSTED}' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$""",
    f"""CREATE OR REPLACE FUNCTION ledger_guard_entry_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    line_count bigint;
    line_total numeric;
    foreign_lines bigint;
BEGIN
    IF OLD.posted IS NOT FALSE THEN
        RAISE EXCEPTION '{MSG_POSTED_IMMUTABLE}' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.posted IS NOT TRUE OR (to_jsonb(NEW) - 'posted') IS DISTINCT FROM (to_jsonb(OLD) - 'posted') THEN
        RAISE EXCEPTION '{MSG_ONLY_POSTING}' USING ERRCODE = 'restrict_violation';
    END IF;
    SELECT count(*), coalesce(sum(l.amount), 0), count(*) FILTER (WHERE a.fund IS DISTINCT FROM NEW.fund)
      INTO line_count, line_total, foreign_lines
      FROM journal_lines AS l JOIN ledger_accounts AS a ON a.id = l.account_id
     WHERE l.entry_id = NEW.id;
    IF line_count < 2 THEN
        RAISE EXCEPTION '{MSG_TOO_FEW_LINES}' USING ERRCODE = 'check_violation';
    END IF;
    IF line_total <> 0 THEN
        RAISE EXCEPTION '{MSG_UNBALANCED}' USING ERRCODE = 'check_violation';
    END IF;
    IF foreign_lines > 0 THEN
        RAISE EXCEPTION '{MSG_OTHER_FUND}' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$""",  # nosec B608  # DDL built from this module's constants, no outside input
    # FOR SHARE: a concurrent posting (which locks the entry row for update) and this
    # insert serialise, and an entry another transaction has not committed yet is not
    # visible here, so a line can never slip into an entry that is being posted.
    f"""CREATE OR REPLACE FUNCTION ledger_guard_line_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    entry_posted boolean;
BEGIN
    SELECT posted INTO entry_posted FROM journal_entries WHERE id = NEW.entry_id FOR SHARE;
    IF entry_posted IS DISTINCT FROM FALSE THEN
        RAISE EXCEPTION '{MSG_LINE_CLOSED_ENTRY}' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$""",  # nosec B608  # DDL built from this module's constants, no outside input
    """CREATE OR REPLACE FUNCTION ledger_guard_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'ledger: ' || TG_TABLE_NAME || ' is append-only',
                          ERRCODE = 'restrict_violation';
END
$$""",
    f"""CREATE OR REPLACE FUNCTION ledger_guard_account_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.code IS DISTINCT FROM OLD.code OR NEW.fund IS DISTINCT FROM OLD.fund
       OR NEW.kind IS DISTINCT FROM OLD.kind THEN
        RAISE EXCEPTION '{MSG_ACCOUNT_FIXED}' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$""",
    """CREATE TRIGGER ledger_entries_insert_guard BEFORE INSERT ON journal_entries
FOR EACH ROW EXECUTE FUNCTION ledger_guard_entry_insert()""",
    """CREATE TRIGGER ledger_entries_update_guard BEFORE UPDATE ON journal_entries
FOR EACH ROW EXECUTE FUNCTION ledger_guard_entry_update()""",
    """CREATE TRIGGER ledger_entries_delete_guard BEFORE DELETE ON journal_entries
FOR EACH ROW EXECUTE FUNCTION ledger_guard_append_only()""",
    # Row triggers do not fire on TRUNCATE; this one does.
    """CREATE TRIGGER ledger_entries_truncate_guard BEFORE TRUNCATE ON journal_entries
FOR EACH STATEMENT EXECUTE FUNCTION ledger_guard_append_only()""",
    """CREATE TRIGGER ledger_lines_insert_guard BEFORE INSERT ON journal_lines
FOR EACH ROW EXECUTE FUNCTION ledger_guard_line_insert()""",
    """CREATE TRIGGER ledger_lines_update_guard BEFORE UPDATE ON journal_lines
FOR EACH ROW EXECUTE FUNCTION ledger_guard_append_only()""",
    """CREATE TRIGGER ledger_lines_delete_guard BEFORE DELETE ON journal_lines
FOR EACH ROW EXECUTE FUNCTION ledger_guard_append_only()""",
    """CREATE TRIGGER ledger_lines_truncate_guard BEFORE TRUNCATE ON journal_lines
FOR EACH STATEMENT EXECUTE FUNCTION ledger_guard_append_only()""",
    """CREATE TRIGGER ledger_accounts_update_guard BEFORE UPDATE ON ledger_accounts
FOR EACH ROW EXECUTE FUNCTION ledger_guard_account_update()""",
]

LEDGER_GUARD_DDL: dict[str, list[str]] = {"sqlite": SQLITE_DDL, "postgresql": POSTGRESQL_DDL}

LEDGER_GUARD_TRIGGERS: tuple[str, ...] = (
    "ledger_entries_insert_guard",
    "ledger_entries_update_guard",
    "ledger_entries_delete_guard",
    "ledger_lines_insert_guard",
    "ledger_lines_update_guard",
    "ledger_lines_delete_guard",
    "ledger_accounts_update_guard",
)
"""Trigger names on both backends (each on the table its name says: ledger_entries_* on journal_entries...)."""

# PostgreSQL also refuses TRUNCATE (row triggers do not fire on it; SQLite has no TRUNCATE).
LEDGER_GUARD_TRIGGERS_POSTGRESQL: tuple[str, ...] = LEDGER_GUARD_TRIGGERS + (
    "ledger_entries_truncate_guard",
    "ledger_lines_truncate_guard",
)

LEDGER_GUARD_FUNCTIONS: tuple[str, ...] = (
    "ledger_guard_entry_insert",
    "ledger_guard_entry_update",
    "ledger_guard_line_insert",
    "ledger_guard_append_only",
    "ledger_guard_account_update",
)
"""PostgreSQL trigger functions (SQLite triggers carry their bodies inline)."""

# Downgrade: dropping the functions with CASCADE drops their triggers on PostgreSQL;
# SQLite drops a table's triggers with the table, these are for dropping them alone.
LEDGER_GUARD_DROP_DDL: dict[str, list[str]] = {
    "sqlite": [f"DROP TRIGGER IF EXISTS {name}" for name in LEDGER_GUARD_TRIGGERS],
    "postgresql": [f"DROP FUNCTION IF EXISTS {name}() CASCADE" for name in LEDGER_GUARD_FUNCTIONS],
}
