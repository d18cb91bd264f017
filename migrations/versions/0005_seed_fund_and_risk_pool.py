"""Seed fund (applications, reviews, notices, seed loans, write-offs, calendar) and risk pool (contributions, coverage, claims, recoveries, circuit breaker)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 17:09:26.297490

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('risk_pool_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_risk_pool_state_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_pool_state'))
    )
    op.create_table('risk_breakers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('npl_ratio', sa.BigInteger(), nullable=False),
    sa.Column('evaluated_on', sa.Date(), nullable=True),
    sa.Column('lifted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('normal', 'warning', 'suspended')", name=op.f('ck_risk_breakers_known_state')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_risk_breakers_bank_id_banks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_breakers')),
    sa.UniqueConstraint('bank_id', name=op.f('uq_risk_breakers_bank_id'))
    )
    op.create_table('holidays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_holidays_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holidays')),
    sa.UniqueConstraint('day', name=op.f('uq_holidays_day'))
    )
    op.create_table('risk_breaker_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('previous_state', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('npl_ratio', sa.BigInteger(), nullable=False),
    sa.Column('changed_on', sa.Date(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("previous_state IN ('normal', 'warning', 'suspended')", name=op.f('ck_risk_breaker_events_known_previous_state')),
    sa.CheckConstraint("state IN ('normal', 'warning', 'suspended')", name=op.f('ck_risk_breaker_events_known_state')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_risk_breaker_events_bank_id_banks')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_risk_breaker_events_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_breaker_events'))
    )
    with op.batch_alter_table('risk_breaker_events', schema=None) as batch_op:
        batch_op.create_index('ix_risk_breaker_events_bank_changed_on', ['bank_id', 'changed_on'], unique=False)

    op.create_table('risk_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('active_loan_id', sa.Integer(), nullable=True),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('days_past_due', sa.Integer(), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.Column('pool_ratio', sa.BigInteger(), nullable=False),
    sa.Column('city_ratio', sa.BigInteger(), nullable=False),
    sa.Column('pool_share', sa.BigInteger(), nullable=False),
    sa.Column('bank_share', sa.BigInteger(), nullable=False),
    sa.Column('city_share', sa.BigInteger(), nullable=False),
    sa.Column('county_share', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('filed_by_id', sa.Integer(), nullable=True),
    sa.Column('approval_seq', sa.Integer(), nullable=True),
    sa.Column('approved_on', sa.Date(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('rejected_on', sa.Date(), nullable=True),
    sa.Column('rejected_by_id', sa.Integer(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('notice_pending', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'paid') = (paid_on IS NOT NULL)", name=op.f('ck_risk_claims_paid_claims_dated')),
    sa.CheckConstraint("(status = 'rejected' AND active_loan_id IS NULL) OR (status <> 'rejected' AND active_loan_id = loan_id)", name=op.f('ck_risk_claims_active_key_follows_status')),
    sa.CheckConstraint("(status IN ('paid', 'approved_unpaid')) = (approval_seq IS NOT NULL)", name=op.f('ck_risk_claims_approved_claims_queued')),
    sa.CheckConstraint("status IN ('submitted', 'paid', 'approved_unpaid', 'rejected')", name=op.f('ck_risk_claims_known_status')),
    sa.CheckConstraint('city_share + county_share = pool_share', name=op.f('ck_risk_claims_city_and_county_add_up')),
    sa.CheckConstraint('pool_share + bank_share = principal', name=op.f('ck_risk_claims_pool_and_bank_add_up')),
    sa.CheckConstraint('pool_share >= 0 AND bank_share >= 0 AND city_share >= 0 AND county_share >= 0', name=op.f('ck_risk_claims_shares_not_negative')),
    sa.CheckConstraint('principal > 0', name=op.f('ck_risk_claims_positive_principal')),
    sa.ForeignKeyConstraint(['active_loan_id'], ['loans.id'], name=op.f('fk_risk_claims_active_loan_id_loans')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_risk_claims_approved_by_id_users')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_risk_claims_bank_id_banks')),
    sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'], name=op.f('fk_risk_claims_filed_by_id_users')),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_risk_claims_loan_id_loans')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_risk_claims_policy_id_policies')),
    sa.ForeignKeyConstraint(['rejected_by_id'], ['users.id'], name=op.f('fk_risk_claims_rejected_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_claims')),
    sa.UniqueConstraint('active_loan_id', name=op.f('uq_risk_claims_active_loan_id')),
    sa.UniqueConstraint('approval_seq', name=op.f('uq_risk_claims_approval_seq'))
    )
    with op.batch_alter_table('risk_claims', schema=None) as batch_op:
        batch_op.create_index('ix_risk_claims_bank_status', ['bank_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_claims_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index('ix_risk_claims_status_seq', ['status', 'approval_seq'], unique=False)

    op.create_table('risk_contributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('city', 'county')", name=op.f('ck_risk_contributions_known_source')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_risk_contributions_positive_amount')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_risk_contributions_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_contributions'))
    )
    with op.batch_alter_table('risk_contributions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_contributions_received_on'), ['received_on'], unique=False)

    op.create_table('seed_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('team_name', sa.String(length=200), nullable=True),
    sa.Column('contact_name', sa.String(length=64), nullable=True),
    sa.Column('contact_phone', sa.String(length=32), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('term_months', sa.Integer(), nullable=False),
    sa.Column('repayment', sa.String(length=10), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('submitted_on', sa.Date(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('initial_review_passed', sa.Boolean(), nullable=True),
    sa.Column('initial_review_on', sa.Date(), nullable=True),
    sa.Column('initial_review_comment', sa.Text(), nullable=False),
    sa.Column('initial_reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_approved', sa.Boolean(), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('decision_comment', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('notice_ends_on', sa.Date(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("repayment IN ('bullet', 'monthly')", name=op.f('ck_seed_applications_known_repayment')),
    sa.CheckConstraint("status IN ('submitted', 'initial_review_passed', 'expert_review', 'approved', 'objection_raised', 'contracted', 'rejected', 'withdrawn')", name=op.f('ck_seed_applications_known_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_seed_applications_positive_amount')),
    sa.CheckConstraint('decision_approved IS NOT TRUE OR notice_ends_on IS NOT NULL', name=op.f('ck_seed_applications_approval_has_notice')),
    sa.CheckConstraint('enterprise_id IS NOT NULL OR team_name IS NOT NULL', name=op.f('ck_seed_applications_enterprise_or_team')),
    sa.CheckConstraint('term_months > 0', name=op.f('ck_seed_applications_positive_term')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_seed_applications_decided_by_id_users')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_seed_applications_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['initial_reviewed_by_id'], ['users.id'], name=op.f('fk_seed_applications_initial_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_seed_applications_policy_id_policies')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_seed_applications_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_applications'))
    )
    with op.batch_alter_table('seed_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_applications_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index('ix_seed_applications_status', ['status'], unique=False)

    op.create_table('seed_contributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_seed_contributions_positive_amount')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_seed_contributions_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_contributions'))
    )
    with op.batch_alter_table('seed_contributions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_contributions_received_on'), ['received_on'], unique=False)

    op.create_table('seed_fund_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('agent_bank_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_seed_fund_state_single_row')),
    sa.ForeignKeyConstraint(['agent_bank_id'], ['banks.id'], name=op.f('fk_seed_fund_state_agent_bank_id_banks')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_seed_fund_state_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_fund_state'))
    )
    op.create_table('workdays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_workdays_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workdays')),
    sa.UniqueConstraint('day', name=op.f('uq_workdays_day'))
    )
    op.create_table('risk_recoveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('within_principal', sa.BigInteger(), nullable=False),
    sa.Column('pool_part', sa.BigInteger(), nullable=False),
    sa.Column('bank_part', sa.BigInteger(), nullable=False),
    sa.Column('city_part', sa.BigInteger(), nullable=False),
    sa.Column('county_part', sa.BigInteger(), nullable=False),
    sa.Column('recovered_on', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_risk_recoveries_positive_amount')),
    sa.CheckConstraint('city_part + county_part = pool_part', name=op.f('ck_risk_recoveries_city_and_county_add_up')),
    sa.CheckConstraint('pool_part + bank_part = amount', name=op.f('ck_risk_recoveries_pool_and_bank_add_up')),
    sa.CheckConstraint('pool_part >= 0 AND bank_part >= 0 AND city_part >= 0 AND county_part >= 0 AND within_principal >= 0 AND within_principal <= amount', name=op.f('ck_risk_recoveries_parts_not_negative')),
    sa.ForeignKeyConstraint(['claim_id'], ['risk_claims.id'], name=op.f('fk_risk_recoveries_claim_id_risk_claims')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_risk_recoveries_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_recoveries'))
    )
    with op.batch_alter_table('risk_recoveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_recoveries_claim_id'), ['claim_id'], unique=False)

    op.create_table('seed_application_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=24), nullable=True),
    sa.Column('to_status', sa.String(length=24), nullable=False),
    sa.Column('happened_on', sa.Date(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['seed_applications.id'], name=op.f('fk_seed_application_events_application_id_seed_applications')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_seed_application_events_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_application_events'))
    )
    with op.batch_alter_table('seed_application_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_application_events_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seed_application_events_by_id'), ['by_id'], unique=False)

    op.create_table('seed_expert_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('expert_name', sa.String(length=64), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('reviewed_on', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('score >= 0 AND score <= 100', name=op.f('ck_seed_expert_reviews_score_range')),
    sa.ForeignKeyConstraint(['application_id'], ['seed_applications.id'], name=op.f('fk_seed_expert_reviews_application_id_seed_applications')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_seed_expert_reviews_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_expert_reviews')),
    sa.UniqueConstraint('application_id', 'expert_name', name='uq_seed_expert_reviews_expert')
    )
    with op.batch_alter_table('seed_expert_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_expert_reviews_application_id'), ['application_id'], unique=False)

    op.create_table('seed_loans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('agent_bank_id', sa.Integer(), nullable=False),
    sa.Column('contract_no', sa.String(length=32), nullable=False),
    sa.Column('contract_year', sa.Integer(), nullable=False),
    sa.Column('contract_seq', sa.Integer(), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.Column('term_months', sa.Integer(), nullable=False),
    sa.Column('repayment', sa.String(length=10), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('contracted_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('disbursed_on', sa.Date(), nullable=True),
    sa.Column('disbursement_ref', sa.String(length=64), nullable=True),
    sa.Column('maturity_date', sa.Date(), nullable=True),
    sa.Column('repaid_principal', sa.BigInteger(), nullable=False),
    sa.Column('written_off_principal', sa.BigInteger(), nullable=False),
    sa.Column('written_off_on', sa.Date(), nullable=True),
    sa.Column('recovered', sa.BigInteger(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('contracted_by_id', sa.Integer(), nullable=False),
    sa.Column('disbursed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("repayment IN ('bullet', 'monthly')", name=op.f('ck_seed_loans_known_repayment')),
    sa.CheckConstraint("status = 'contracted' OR disbursed_on IS NOT NULL", name=op.f('ck_seed_loans_disbursed_when_active')),
    sa.CheckConstraint("status IN ('contracted', 'active', 'repaid', 'written_off')", name=op.f('ck_seed_loans_known_status')),
    sa.CheckConstraint('principal > 0', name=op.f('ck_seed_loans_positive_principal')),
    sa.CheckConstraint('recovered >= 0 AND recovered <= written_off_principal', name=op.f('ck_seed_loans_recovered_within_loss')),
    sa.CheckConstraint('repaid_principal >= 0 AND written_off_principal >= 0 AND repaid_principal + written_off_principal <= principal', name=op.f('ck_seed_loans_repaid_within_principal')),
    sa.CheckConstraint('term_months > 0', name=op.f('ck_seed_loans_positive_term')),
    sa.ForeignKeyConstraint(['agent_bank_id'], ['banks.id'], name=op.f('fk_seed_loans_agent_bank_id_banks')),
    sa.ForeignKeyConstraint(['application_id'], ['seed_applications.id'], name=op.f('fk_seed_loans_application_id_seed_applications')),
    sa.ForeignKeyConstraint(['contracted_by_id'], ['users.id'], name=op.f('fk_seed_loans_contracted_by_id_users')),
    sa.ForeignKeyConstraint(['disbursed_by_id'], ['users.id'], name=op.f('fk_seed_loans_disbursed_by_id_users')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_seed_loans_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_seed_loans_policy_id_policies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_loans')),
    sa.UniqueConstraint('agent_bank_id', 'disbursement_ref', name='uq_seed_loans_disbursement_ref'),
    sa.UniqueConstraint('application_id', name=op.f('uq_seed_loans_application_id')),
    sa.UniqueConstraint('contract_no', name=op.f('uq_seed_loans_contract_no')),
    sa.UniqueConstraint('contract_year', 'contract_seq', name='uq_seed_loans_contract_seq')
    )
    with op.batch_alter_table('seed_loans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_loans_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index('ix_seed_loans_status', ['status'], unique=False)

    op.create_table('seed_objections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('raised_on', sa.Date(), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('resolution_reason', sa.Text(), nullable=False),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'dismissed', 'upheld', 'closed')", name=op.f('ck_seed_objections_known_status')),
    sa.ForeignKeyConstraint(['application_id'], ['seed_applications.id'], name=op.f('fk_seed_objections_application_id_seed_applications')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_seed_objections_raised_by_id_users')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_seed_objections_resolved_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_objections'))
    )
    with op.batch_alter_table('seed_objections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_objections_application_id'), ['application_id'], unique=False)

    op.create_table('seed_instalments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('principal > 0', name=op.f('ck_seed_instalments_positive_principal')),
    sa.ForeignKeyConstraint(['loan_id'], ['seed_loans.id'], name=op.f('fk_seed_instalments_loan_id_seed_loans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_instalments')),
    sa.UniqueConstraint('loan_id', 'seq', name='uq_seed_instalments_seq')
    )
    with op.batch_alter_table('seed_instalments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_instalments_loan_id'), ['loan_id'], unique=False)

    op.create_table('seed_recoveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('recovered_on', sa.Date(), nullable=False),
    sa.Column('bank_ref', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_seed_recoveries_positive_amount')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_seed_recoveries_bank_id_banks')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_seed_recoveries_created_by_id_users')),
    sa.ForeignKeyConstraint(['loan_id'], ['seed_loans.id'], name=op.f('fk_seed_recoveries_loan_id_seed_loans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_recoveries')),
    sa.UniqueConstraint('bank_id', 'bank_ref', name='uq_seed_recoveries_bank_ref')
    )
    with op.batch_alter_table('seed_recoveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_recoveries_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seed_recoveries_recovered_on'), ['recovered_on'], unique=False)

    op.create_table('seed_repayments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('bank_ref', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_seed_repayments_positive_amount')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_seed_repayments_bank_id_banks')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_seed_repayments_created_by_id_users')),
    sa.ForeignKeyConstraint(['loan_id'], ['seed_loans.id'], name=op.f('fk_seed_repayments_loan_id_seed_loans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_repayments')),
    sa.UniqueConstraint('bank_id', 'bank_ref', name='uq_seed_repayments_bank_ref')
    )
    with op.batch_alter_table('seed_repayments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_repayments_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seed_repayments_paid_on'), ['paid_on'], unique=False)

    op.create_table('seed_write_offs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('proposed_on', sa.Date(), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('proposed', 'approved', 'rejected')", name=op.f('ck_seed_write_offs_known_status')),
    sa.CheckConstraint('amount IS NULL OR amount > 0', name=op.f('ck_seed_write_offs_positive_amount')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_seed_write_offs_decided_by_id_users')),
    sa.ForeignKeyConstraint(['loan_id'], ['seed_loans.id'], name=op.f('fk_seed_write_offs_loan_id_seed_loans')),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'], name=op.f('fk_seed_write_offs_proposed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_write_offs'))
    )
    with op.batch_alter_table('seed_write_offs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_write_offs_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index('uq_seed_write_offs_live', ['loan_id'], unique=True, postgresql_where=sa.text("status IN ('proposed', 'approved')"), sqlite_where=sa.text("status IN ('proposed', 'approved')"))

    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('covered', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('coverage_reason', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_loans_covered_bank', ['covered', 'bank_id'], unique=False)

    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_pool_commitment', sa.BigInteger(), nullable=False, server_default='1000000000'))
        batch_op.add_column(sa.Column('risk_city_share', sa.BigInteger(), nullable=False, server_default='400000'))
        batch_op.add_column(sa.Column('risk_county_share', sa.BigInteger(), nullable=False, server_default='600000'))
        batch_op.add_column(sa.Column('risk_pool_share', sa.BigInteger(), nullable=False, server_default='800000'))
        batch_op.add_column(sa.Column('risk_min_paid_in_ratio', sa.BigInteger(), nullable=False, server_default='100000'))
        batch_op.add_column(sa.Column('risk_claim_trigger_dpd', sa.Integer(), nullable=False, server_default='91'))
        batch_op.add_column(sa.Column('risk_breaker_warning', sa.BigInteger(), nullable=False, server_default='50000'))
        batch_op.add_column(sa.Column('risk_breaker_suspend', sa.BigInteger(), nullable=False, server_default='80000'))
        batch_op.add_column(sa.Column('risk_leverage_multiple', sa.Integer(), nullable=False, server_default='10'))
        # Existing policy versions take the defaults of domain.md §4 (money in fen, ratios in millionths).
        batch_op.create_check_constraint(
            'risk_rules',
            "risk_pool_commitment > 0 AND risk_city_share >= 0 AND risk_county_share >= 0 AND "
            "risk_city_share + risk_county_share = 1000000 AND "
            "risk_pool_share >= 0 AND risk_pool_share <= 1000000 AND "
            "risk_min_paid_in_ratio >= 0 AND risk_min_paid_in_ratio <= 1000000 AND "
            "risk_claim_trigger_dpd >= 1 AND risk_breaker_warning > 0 AND "
            "risk_breaker_warning <= risk_breaker_suspend AND risk_breaker_suspend <= 1000000 AND "
            "risk_leverage_multiple >= 1",
        )



def downgrade():
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_policies_risk_rules'), type_='check')
        batch_op.drop_column('risk_leverage_multiple')
        batch_op.drop_column('risk_breaker_suspend')
        batch_op.drop_column('risk_breaker_warning')
        batch_op.drop_column('risk_claim_trigger_dpd')
        batch_op.drop_column('risk_min_paid_in_ratio')
        batch_op.drop_column('risk_pool_share')
        batch_op.drop_column('risk_county_share')
        batch_op.drop_column('risk_city_share')
        batch_op.drop_column('risk_pool_commitment')

    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_index('ix_loans_covered_bank')
        batch_op.drop_column('coverage_reason')
        batch_op.drop_column('covered')

    with op.batch_alter_table('seed_write_offs', schema=None) as batch_op:
        batch_op.drop_index('uq_seed_write_offs_live', postgresql_where=sa.text("status IN ('proposed', 'approved')"), sqlite_where=sa.text("status IN ('proposed', 'approved')"))
        batch_op.drop_index(batch_op.f('ix_seed_write_offs_loan_id'))

    op.drop_table('seed_write_offs')
    with op.batch_alter_table('seed_repayments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seed_repayments_paid_on'))
        batch_op.drop_index(batch_op.f('ix_seed_repayments_loan_id'))

    op.drop_table('seed_repayments')
    with op.batch_alter_table('seed_recoveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seed_recoveries_recovered_on'))
        batch_op.drop_index(batch_op.f('ix_seed_recoveries_loan_id'))

    op.drop_table('seed_recoveries')
    with op.batch_alter_table('seed_instalments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seed_instalments_loan_id'))

    op.drop_table('seed_instalments')
    with op.batch_alter_table('seed_objections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seed_objections_application_id'))

    op.drop_table('seed_objections')
    with op.batch_alter_table('seed_loans', schema=None) as batch_op:
        batch_op.drop_index('ix_seed_loans_status')
        batch_op.drop_index(batch_op.f('ix_seed_loans_enterprise_id'))

    op.drop_table('seed_loans')
    with op.batch_alter_table('seed_expert_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seed_expert_reviews_application_id'))

    op.drop_table('seed_expert_reviews')
    with op.batch_alter_table('seed_application_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seed_application_events_by_id'))
        batch_op.drop_index(batch_op.f('ix_seed_application_events_application_id'))

    op.drop_table('seed_application_events')
    with op.batch_alter_table('risk_recoveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_recoveries_claim_id'))

    op.drop_table('risk_recoveries')
    op.drop_table('workdays')
    op.drop_table('seed_fund_state')
    with op.batch_alter_table('seed_contributions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seed_contributions_received_on'))

    op.drop_table('seed_contributions')
    with op.batch_alter_table('seed_applications', schema=None) as batch_op:
        batch_op.drop_index('ix_seed_applications_status')
        batch_op.drop_index(batch_op.f('ix_seed_applications_enterprise_id'))

    op.drop_table('seed_applications')
    with op.batch_alter_table('risk_contributions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_contributions_received_on'))

    op.drop_table('risk_contributions')
    with op.batch_alter_table('risk_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_claims_status_seq')
        batch_op.drop_index(batch_op.f('ix_risk_claims_loan_id'))
        batch_op.drop_index('ix_risk_claims_bank_status')

    op.drop_table('risk_claims')
    with op.batch_alter_table('risk_breaker_events', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_breaker_events_bank_changed_on')

    op.drop_table('risk_breaker_events')
    op.drop_table('holidays')
    op.drop_table('risk_breakers')
    op.drop_table('risk_pool_state')
