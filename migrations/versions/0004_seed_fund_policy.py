"""Seed-fund numbers in the versioned policy (domain.md §1 and §5)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 17:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Frozen defaults at this revision, applied to every existing policy version (money in fen).
SEED_DEFAULTS = (
    ('seed_fund_size', sa.BigInteger(), '1000000000'),
    ('seed_opening_disbursed', sa.BigInteger(), '620000000'),
    ('seed_max_amount', sa.BigInteger(), '30000000'),
    ('seed_min_term_months', sa.Integer(), '1'),
    ('seed_max_term_months', sa.Integer(), '24'),
    ('seed_max_enterprise_age_years', sa.Integer(), '5'),
    ('seed_min_expert_reviews', sa.Integer(), '3'),
    ('seed_pass_mark', sa.Integer(), '60'),
    ('seed_notice_working_days', sa.Integer(), '5'),
)


def upgrade():
    with op.batch_alter_table('policies', schema=None) as batch_op:
        for name, type_, default in SEED_DEFAULTS:
            batch_op.add_column(sa.Column(name, type_, nullable=False, server_default=default))
        batch_op.create_check_constraint(
            'seed_rules',
            "seed_fund_size > 0 AND seed_opening_disbursed >= 0 AND seed_max_amount > 0 AND "
            "seed_min_term_months >= 1 AND seed_max_term_months >= seed_min_term_months AND "
            "seed_max_enterprise_age_years >= 0 AND seed_min_expert_reviews >= 1 AND "
            "seed_pass_mark >= 0 AND seed_pass_mark <= 100 AND seed_notice_working_days >= 0",
        )


def downgrade():
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_policies_seed_rules'), type_='check')
        for name, _type, _default in reversed(SEED_DEFAULTS):
            batch_op.drop_column(name)
