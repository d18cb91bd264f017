"""Initial schema: identity, banks, ledger, audit trail

Revision ID: 0001
Revises: 
Create Date: 2026-12-01 15:59:41.062589

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


# Database-level guards, frozen here as they were at this revision (a migration is history: it
# must not change when the application code later does). The ledger refuses unbalanced or
# altered entries; the audit trail refuses UPDATE and DELETE.
LEDGER_GUARDS = {'postgresql': ['CREATE OR REPLACE FUNCTION ledger_guard_entry_insert() RETURNS trigger\n'
                'LANGUAGE plpgsql AS $$\n'
                'BEGIN\n'
                '    IF NEW.posted IS NOT FALSE THEN\n'
                "        RAISE EXCEPTION 'ledger: an entry must be inserted unposted' USING ERRCODE = "
                "'check_violation';\n"
                '    END IF;\n'
                '    RETURN NEW;\n'
                'END\n'
                '$$',
                'CREATE OR REPLACE FUNCTION ledger_guard_entry_update() RETURNS trigger\n'
                'LANGUAGE plpgsql AS $$\n'
                'DECLARE\n'
                '    line_count bigint;\n'
                '    line_total numeric;\n'
                '    foreign_lines bigint;\n'
                'BEGIN\n'
                '    IF OLD.posted IS NOT FALSE THEN\n'
                "        RAISE EXCEPTION 'ledger: a posted entry cannot be changed' USING ERRCODE = "
                "'restrict_violation';\n"
                '    END IF;\n'
                "    IF NEW.posted IS NOT TRUE OR (to_jsonb(NEW) - 'posted') IS DISTINCT FROM (to_jsonb(OLD) "
                "- 'posted') THEN\n"
                "        RAISE EXCEPTION 'ledger: the only change allowed to an entry is posting it' USING "
                "ERRCODE = 'restrict_violation';\n"
                '    END IF;\n'
                '    SELECT count(*), coalesce(sum(l.amount), 0), count(*) FILTER (WHERE a.fund IS DISTINCT '
                'FROM NEW.fund)\n'
                '      INTO line_count, line_total, foreign_lines\n'
                '      FROM journal_lines AS l JOIN ledger_accounts AS a ON a.id = l.account_id\n'
                '     WHERE l.entry_id = NEW.id;\n'
                '    IF line_count < 2 THEN\n'
                "        RAISE EXCEPTION 'ledger: an entry needs at least two lines' USING ERRCODE = "
                "'check_violation';\n"
                '    END IF;\n'
                '    IF line_total <> 0 THEN\n'
                "        RAISE EXCEPTION 'ledger: entry does not balance' USING ERRCODE = "
                "'check_violation';\n"
                '    END IF;\n'
                '    IF foreign_lines > 0 THEN\n'
                "        RAISE EXCEPTION 'ledger: a line account belongs to another fund' USING ERRCODE = "
                "'check_violation';\n"
                '    END IF;\n'
                '    RETURN NEW;\n'
                'END\n'
                '$$',
                'CREATE OR REPLACE FUNCTION ledger_guard_line_insert() RETURNS trigger\n'
                'LANGUAGE plpgsql AS $$\n'
                'DECLARE\n'
                '    entry_posted boolean;\n'
                'BEGIN\n'
                '    SELECT posted INTO entry_posted FROM journal_entries WHERE id = NEW.entry_id FOR '
                'SHARE;\n'
                '    IF entry_posted IS DISTINCT FROM FALSE THEN\n'
                "        RAISE EXCEPTION 'ledger: lines may only be added to an existing unposted entry' "
                "USING ERRCODE = 'check_violation';\n"
                '    END IF;\n'
                '    RETURN NEW;\n'
                'END\n'
                '$$',
                'CREATE OR REPLACE FUNCTION ledger_guard_append_only() RETURNS trigger\n'
                'LANGUAGE plpgsql AS $$\n'
                'BEGIN\n'
                "    RAISE EXCEPTION USING MESSAGE = 'ledger: ' || TG_TABLE_NAME || ' is append-only',\n"
                "                          ERRCODE = 'restrict_violation';\n"
                'END\n'
                '$$',
                'CREATE OR REPLACE FUNCTION ledger_guard_account_update() RETURNS trigger\n'
                'LANGUAGE plpgsql AS $$\n'
                'BEGIN\n'
                '    IF NEW.code IS DISTINCT FROM OLD.code OR NEW.fund IS DISTINCT FROM OLD.fund\n'
                '       OR NEW.kind IS DISTINCT FROM OLD.kind THEN\n'
                "        RAISE EXCEPTION 'ledger: account code, fund and kind cannot change' USING ERRCODE = "
                "'restrict_violation';\n"
                '    END IF;\n'
                '    RETURN NEW;\n'
                'END\n'
                '$$',
                'CREATE TRIGGER ledger_entries_insert_guard BEFORE INSERT ON journal_entries\n'
                'FOR EACH ROW EXECUTE FUNCTION ledger_guard_entry_insert()',
                'CREATE TRIGGER ledger_entries_update_guard BEFORE UPDATE ON journal_entries\n'
                'FOR EACH ROW EXECUTE FUNCTION ledger_guard_entry_update()',
                'CREATE TRIGGER ledger_entries_delete_guard BEFORE DELETE ON journal_entries\n'
                'FOR EACH ROW EXECUTE FUNCTION ledger_guard_append_only()',
                'CREATE TRIGGER ledger_entries_truncate_guard BEFORE TRUNCATE ON journal_entries\n'
                'FOR EACH STATEMENT EXECUTE FUNCTION ledger_guard_append_only()',
                'CREATE TRIGGER ledger_lines_insert_guard BEFORE INSERT ON journal_lines\n'
                'FOR EACH ROW EXECUTE FUNCTION ledger_guard_line_insert()',
                'CREATE TRIGGER ledger_lines_update_guard BEFORE UPDATE ON journal_lines\n'
                'FOR EACH ROW EXECUTE FUNCTION ledger_guard_append_only()',
                'CREATE TRIGGER ledger_lines_delete_guard BEFORE DELETE ON journal_lines\n'
                'FOR EACH ROW EXECUTE FUNCTION ledger_guard_append_only()',
                'CREATE TRIGGER ledger_lines_truncate_guard BEFORE TRUNCATE ON journal_lines\n'
                'FOR EACH STATEMENT EXECUTE FUNCTION ledger_guard_append_only()',
                'CREATE TRIGGER ledger_accounts_update_guard BEFORE UPDATE ON ledger_accounts\n'
                'FOR EACH ROW EXECUTE FUNCTION ledger_guard_account_update()'],
 'sqlite': ['CREATE TRIGGER ledger_entries_insert_guard BEFORE INSERT ON journal_entries\n'
            'WHEN NEW.posted IS NOT 0\n'
            'BEGIN\n'
            "    SELECT RAISE(ABORT, 'ledger: an entry must be inserted unposted');\n"
            'END',
            'CREATE TRIGGER ledger_entries_update_guard BEFORE UPDATE ON journal_entries\n'
            'BEGIN\n'
            "    SELECT RAISE(ABORT, 'ledger: a posted entry cannot be changed') WHERE OLD.posted IS NOT 0;\n"
            "    SELECT RAISE(ABORT, 'ledger: the only change allowed to an entry is posting it')\n"
            '     WHERE NEW.posted IS NOT 1 OR NEW.id IS NOT OLD.id OR NEW.fund IS NOT OLD.fund OR '
            'NEW.entry_date IS NOT OLD.entry_date OR NEW.memo IS NOT OLD.memo OR NEW.source_type IS NOT '
            'OLD.source_type OR NEW.source_id IS NOT OLD.source_id OR NEW.reverses_id IS NOT OLD.reverses_id '
            'OR NEW.created_at IS NOT OLD.created_at OR NEW.created_by IS NOT OLD.created_by;\n'
            "    SELECT RAISE(ABORT, 'ledger: an entry needs at least two lines')\n"
            '     WHERE (SELECT count(*) FROM journal_lines WHERE entry_id = NEW.id) < 2;\n'
            "    SELECT RAISE(ABORT, 'ledger: entry does not balance')\n"
            '     WHERE (SELECT coalesce(sum(amount), 0) FROM journal_lines WHERE entry_id = NEW.id) <> 0;\n'
            "    SELECT RAISE(ABORT, 'ledger: a line account belongs to another fund')\n"
            '     WHERE EXISTS (SELECT 1 FROM journal_lines AS l JOIN ledger_accounts AS a ON a.id = '
            'l.account_id\n'
            '                    WHERE l.entry_id = NEW.id AND a.fund IS NOT NEW.fund);\n'
            'END',
            'CREATE TRIGGER ledger_entries_delete_guard BEFORE DELETE ON journal_entries\n'
            'BEGIN\n'
            "    SELECT RAISE(ABORT, 'ledger: journal_entries is append-only');\n"
            'END',
            'CREATE TRIGGER ledger_lines_insert_guard BEFORE INSERT ON journal_lines\n'
            'BEGIN\n'
            "    SELECT RAISE(ABORT, 'ledger: lines may only be added to an existing unposted entry')\n"
            '     WHERE coalesce((SELECT posted FROM journal_entries WHERE id = NEW.entry_id), 1) IS NOT 0;\n'
            "    SELECT RAISE(ABORT, 'ledger: a line amount must be a whole number of fen') WHERE "
            "typeof(NEW.amount) <> 'integer';\n"
            'END',
            'CREATE TRIGGER ledger_lines_update_guard BEFORE UPDATE ON journal_lines\n'
            'BEGIN\n'
            "    SELECT RAISE(ABORT, 'ledger: journal_lines is append-only');\n"
            'END',
            'CREATE TRIGGER ledger_lines_delete_guard BEFORE DELETE ON journal_lines\n'
            'BEGIN\n'
            "    SELECT RAISE(ABORT, 'ledger: journal_lines is append-only');\n"
            'END',
            'CREATE TRIGGER ledger_accounts_update_guard BEFORE UPDATE ON ledger_accounts\n'
            'WHEN NEW.code IS NOT OLD.code OR NEW.fund IS NOT OLD.fund OR NEW.kind IS NOT OLD.kind\n'
            'BEGIN\n'
            "    SELECT RAISE(ABORT, 'ledger: account code, fund and kind cannot change');\n"
            'END']}

LEDGER_GUARDS_DROP = {'postgresql': ['DROP FUNCTION IF EXISTS ledger_guard_entry_insert() CASCADE',
                'DROP FUNCTION IF EXISTS ledger_guard_entry_update() CASCADE',
                'DROP FUNCTION IF EXISTS ledger_guard_line_insert() CASCADE',
                'DROP FUNCTION IF EXISTS ledger_guard_append_only() CASCADE',
                'DROP FUNCTION IF EXISTS ledger_guard_account_update() CASCADE'],
 'sqlite': ['DROP TRIGGER IF EXISTS ledger_entries_insert_guard',
            'DROP TRIGGER IF EXISTS ledger_entries_update_guard',
            'DROP TRIGGER IF EXISTS ledger_entries_delete_guard',
            'DROP TRIGGER IF EXISTS ledger_lines_insert_guard',
            'DROP TRIGGER IF EXISTS ledger_lines_update_guard',
            'DROP TRIGGER IF EXISTS ledger_lines_delete_guard',
            'DROP TRIGGER IF EXISTS ledger_accounts_update_guard']}

AUDIT_GUARDS = {'postgresql': ['CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS '
                '$$\n'
                'BEGIN\n'
                "  RAISE EXCEPTION USING MESSAGE = 'audit_events is append-only, ' || TG_OP || ' refused';\n"
                'END;\n'
                '$$',
                'CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH ROW EXECUTE '
                'FUNCTION audit_events_append_only()',
                'CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events FOR EACH ROW EXECUTE '
                'FUNCTION audit_events_append_only()',
                'CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT '
                'EXECUTE FUNCTION audit_events_append_only()'],
 'sqlite': ['CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, '
            "'audit_events is append-only, UPDATE refused'); END",
            'CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, '
            "'audit_events is append-only, DELETE refused'); END"]}

AUDIT_GUARDS_DROP = {'postgresql': ['DROP TRIGGER IF EXISTS audit_events_no_update ON audit_events',
                'DROP TRIGGER IF EXISTS audit_events_no_delete ON audit_events',
                'DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events',
                'DROP FUNCTION IF EXISTS audit_events_append_only()'],
 'sqlite': ['DROP TRIGGER IF EXISTS audit_events_no_update', 'DROP TRIGGER IF EXISTS audit_events_no_delete']}


def _run(statements_by_dialect):
    for statement in statements_by_dialect[op.get_bind().dialect.name]:
        op.execute(statement)


def upgrade():
    op.create_table('banks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_banks')),
    sa.UniqueConstraint('code', name=op.f('uq_banks_code')),
    sa.UniqueConstraint('name', name=op.f('uq_banks_name'))
    )
    op.create_table('journal_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fund', sa.String(length=20), nullable=False),
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('memo', sa.Text(), nullable=False),
    sa.Column('source_type', sa.String(length=40), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('posted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.CheckConstraint("fund <> ''", name=op.f('ck_journal_entries_fund_not_empty')),
    sa.ForeignKeyConstraint(['reverses_id'], ['journal_entries.id'], name=op.f('fk_journal_entries_reverses_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_journal_entries_reverses_id'))
    )
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.create_index('ix_journal_entries_fund_entry_date', ['fund', 'entry_date'], unique=False)
        batch_op.create_index('ix_journal_entries_source', ['source_type', 'source_id'], unique=False)

    op.create_table('ledger_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('fund', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("fund <> ''", name=op.f('ck_ledger_accounts_fund_not_empty')),
    sa.CheckConstraint("kind IN ('asset', 'liability', 'equity', 'income', 'expense')", name=op.f('ck_ledger_accounts_known_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('code', name=op.f('uq_ledger_accounts_code'))
    )
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_accounts_fund'), ['fund'], unique=False)

    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_address_at', ['address', 'at'], unique=False)
        batch_op.create_index('ix_login_failures_username_at', ['username', 'at'], unique=False)

    op.create_table('journal_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_journal_lines_amount_not_zero')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_journal_lines_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_journal_lines_entry_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_lines'))
    )
    with op.batch_alter_table('journal_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_lines_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_lines_entry_id'), ['entry_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(role = 'bank_liaison' AND bank_id IS NOT NULL) OR (role <> 'bank_liaison' AND bank_id IS NULL)", name=op.f('ck_users_liaison_has_bank')),
    sa.CheckConstraint("role IN ('admin', 'bank_liaison', 'fund_officer', 'fund_manager', 'auditor')", name=op.f('ck_users_known_role')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_users_bank_id_banks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_bank_id'), ['bank_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('before', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('after', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_events_object', ['object_type', 'object_id'], unique=False)

    _run(LEDGER_GUARDS)
    _run(AUDIT_GUARDS)


def downgrade():
    _run(AUDIT_GUARDS_DROP)
    _run(LEDGER_GUARDS_DROP)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_object')
        batch_op.drop_index('ix_audit_events_at')

    op.drop_table('audit_events')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_bank_id'))

    op.drop_table('users')
    with op.batch_alter_table('journal_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_lines_entry_id'))
        batch_op.drop_index(batch_op.f('ix_journal_lines_account_id'))

    op.drop_table('journal_lines')
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_username_at')
        batch_op.drop_index('ix_login_failures_address_at')

    op.drop_table('login_failures')
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_accounts_fund'))

    op.drop_table('ledger_accounts')
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_journal_entries_source')
        batch_op.drop_index('ix_journal_entries_fund_entry_date')

    op.drop_table('journal_entries')
    op.drop_table('banks')
