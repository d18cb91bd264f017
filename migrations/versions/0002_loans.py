"""Policies, enterprises and ratings, knowledge-value loans, disbursements, repayments, bank tapes

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 16:03:13.921295

"""
from alembic import op
import sqlalchemy as sa

from datetime import date, datetime, timezone

# Frozen copy of the default policy at this revision; money in integer fen.
DEFAULT_POLICY = {
    "effective_from": date(2021, 1, 1),
    "credit_line_a": 500000000,
    "credit_line_b": 400000000,
    "credit_line_c": 300000000,
    "credit_line_d": 160000000,
    "credit_line_e": 80000000,
    "rating_valid_months": 12,
    "max_term_months": 12,
    "special_mention_from_dpd": 1,
    "substandard_from_dpd": 91,
    "doubtful_from_dpd": 271,
    "loss_from_dpd": 361,
    "program_target": 30000000000,
    "program_target_date": date(2025, 12, 31),
    "program_opening": 11355800000,
    "program_opening_enterprises": 71,
    "count_opening_toward_target": True,
    "science_tech_baseline": 216,
    "science_tech_target": 350,
    "high_tech_baseline": 24,
    "high_tech_target": 100,
}


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('enterprises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('registered_on', sa.Date(), nullable=False),
    sa.Column('town', sa.String(length=64), nullable=False),
    sa.Column('industry', sa.String(length=64), nullable=False),
    sa.Column('is_science_tech', sa.Boolean(), nullable=False),
    sa.Column('is_high_tech', sa.Boolean(), nullable=False),
    sa.Column('bad_credit', sa.Boolean(), nullable=False),
    sa.Column('dishonest', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprises')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_enterprises_credit_code'))
    )
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprises_industry'), ['industry'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_town'), ['town'], unique=False)

    op.create_table('policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('credit_line_a', sa.BigInteger(), nullable=False),
    sa.Column('credit_line_b', sa.BigInteger(), nullable=False),
    sa.Column('credit_line_c', sa.BigInteger(), nullable=False),
    sa.Column('credit_line_d', sa.BigInteger(), nullable=False),
    sa.Column('credit_line_e', sa.BigInteger(), nullable=False),
    sa.Column('rating_valid_months', sa.Integer(), nullable=False),
    sa.Column('max_term_months', sa.Integer(), nullable=False),
    sa.Column('special_mention_from_dpd', sa.Integer(), nullable=False),
    sa.Column('substandard_from_dpd', sa.Integer(), nullable=False),
    sa.Column('doubtful_from_dpd', sa.Integer(), nullable=False),
    sa.Column('loss_from_dpd', sa.Integer(), nullable=False),
    sa.Column('program_target', sa.BigInteger(), nullable=False),
    sa.Column('program_target_date', sa.Date(), nullable=False),
    sa.Column('program_opening', sa.BigInteger(), nullable=False),
    sa.Column('program_opening_enterprises', sa.Integer(), nullable=False),
    sa.Column('count_opening_toward_target', sa.Boolean(), nullable=False),
    sa.Column('science_tech_baseline', sa.Integer(), nullable=False),
    sa.Column('science_tech_target', sa.Integer(), nullable=False),
    sa.Column('high_tech_baseline', sa.Integer(), nullable=False),
    sa.Column('high_tech_target', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('0 < special_mention_from_dpd AND special_mention_from_dpd < substandard_from_dpd AND substandard_from_dpd < doubtful_from_dpd AND doubtful_from_dpd < loss_from_dpd', name=op.f('ck_policies_dpd_tiers_ascend')),
    sa.CheckConstraint('credit_line_a >= credit_line_b AND credit_line_b >= credit_line_c AND credit_line_c >= credit_line_d AND credit_line_d >= credit_line_e AND credit_line_e > 0', name=op.f('ck_policies_credit_lines_descend')),
    sa.CheckConstraint('rating_valid_months > 0 AND max_term_months > 0', name=op.f('ck_policies_positive_terms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies')),
    sa.UniqueConstraint('effective_from', name=op.f('uq_policies_effective_from'))
    )
    op.create_table('bank_tapes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_bank_tapes_bank_id_banks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_tapes')),
    sa.UniqueConstraint('bank_id', 'period', 'version', name='uq_bank_tapes_version')
    )
    op.create_table('loans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('contract_no', sa.String(length=64), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.Column('annual_rate', sa.BigInteger(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('maturity_date', sa.Date(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('disbursed_total', sa.BigInteger(), nullable=False),
    sa.Column('repaid_principal', sa.BigInteger(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('contracted', 'active', 'repaid')", name=op.f('ck_loans_known_status')),
    sa.CheckConstraint('disbursed_total >= 0 AND disbursed_total <= principal', name=op.f('ck_loans_disbursed_within_principal')),
    sa.CheckConstraint('maturity_date > start_date', name=op.f('ck_loans_matures_after_start')),
    sa.CheckConstraint('principal > 0', name=op.f('ck_loans_positive_principal')),
    sa.CheckConstraint('repaid_principal >= 0 AND repaid_principal <= disbursed_total', name=op.f('ck_loans_repaid_within_disbursed')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_loans_bank_id_banks')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_loans_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_loans_policy_id_policies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loans')),
    sa.UniqueConstraint('bank_id', 'contract_no', name='uq_loans_bank_contract')
    )
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.create_index('ix_loans_bank_status', ['bank_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_loans_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=1), nullable=False),
    sa.Column('rated_on', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('credit_line', sa.BigInteger(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D', 'E')", name=op.f('ck_ratings_known_grade')),
    sa.CheckConstraint('valid_until > rated_on', name=op.f('ck_ratings_valid_after_rating')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_ratings_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_ratings_policy_id_policies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
    sa.UniqueConstraint('enterprise_id', 'rated_on', name='uq_ratings_enterprise_day')
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('bank_tape_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tape_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('contract_no', sa.String(length=64), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('disbursed_total', sa.BigInteger(), nullable=False),
    sa.Column('repaid_principal', sa.BigInteger(), nullable=False),
    sa.Column('outstanding_principal', sa.BigInteger(), nullable=False),
    sa.Column('days_past_due', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tape_id'], ['bank_tapes.id'], name=op.f('fk_bank_tape_rows_tape_id_bank_tapes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_tape_rows'))
    )
    with op.batch_alter_table('bank_tape_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_tape_rows_tape_id'), ['tape_id'], unique=False)

    op.create_table('disbursements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('disbursed_on', sa.Date(), nullable=False),
    sa.Column('bank_ref', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_disbursements_positive_amount')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_disbursements_bank_id_banks')),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_disbursements_loan_id_loans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disbursements')),
    sa.UniqueConstraint('bank_id', 'bank_ref', name='uq_disbursements_bank_ref')
    )
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.create_index('ix_disbursements_disbursed_on', ['disbursed_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_disbursements_loan_id'), ['loan_id'], unique=False)

    op.create_table('repayments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.Column('interest', sa.BigInteger(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('bank_ref', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('principal >= 0 AND interest >= 0 AND principal + interest > 0', name=op.f('ck_repayments_positive_payment')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_repayments_bank_id_banks')),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_repayments_loan_id_loans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repayments')),
    sa.UniqueConstraint('bank_id', 'bank_ref', name='uq_repayments_bank_ref')
    )
    with op.batch_alter_table('repayments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repayments_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index('ix_repayments_paid_on', ['paid_on'], unique=False)

    # The defaults of domain.md §1 and §3, in force from the programme's start (amounts in fen).
    policies = sa.table(
        "policies", *(sa.column(name) for name in DEFAULT_POLICY),
        sa.column("note"), sa.column("created_by"), sa.column("created_at"),
    )
    op.bulk_insert(policies, [{**DEFAULT_POLICY, "note": "默认政策（domain.md）", "created_by": "system",
                               "created_at": datetime(2021, 1, 1, tzinfo=timezone.utc)}])


def downgrade():
    with op.batch_alter_table('repayments', schema=None) as batch_op:
        batch_op.drop_index('ix_repayments_paid_on')
        batch_op.drop_index(batch_op.f('ix_repayments_loan_id'))

    op.drop_table('repayments')
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disbursements_loan_id'))
        batch_op.drop_index('ix_disbursements_disbursed_on')

    op.drop_table('disbursements')
    with op.batch_alter_table('bank_tape_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_tape_rows_tape_id'))

    op.drop_table('bank_tape_rows')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_enterprise_id'))

    op.drop_table('ratings')
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loans_enterprise_id'))
        batch_op.drop_index('ix_loans_bank_status')

    op.drop_table('loans')
    op.drop_table('bank_tapes')
    op.drop_table('policies')
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprises_town'))
        batch_op.drop_index(batch_op.f('ix_enterprises_name'))
        batch_op.drop_index(batch_op.f('ix_enterprises_industry'))

    op.drop_table('enterprises')
