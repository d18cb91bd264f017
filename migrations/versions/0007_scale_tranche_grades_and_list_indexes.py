"""Scale: each tranche carries its borrower and that day's grade; indexes for progress and the loans list

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

``disbursements.enterprise_id`` and ``disbursements.grade`` are stored copies (loans/tranche_grades.py)
so the programme's progress reads one table through a covering index. Existing tranches are filled
here by the same rule: the borrower of the tranche's loan, and the grade of that borrower's latest
rating dated on or before the disbursement day (NULL when there is none).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('disbursements', sa.Column('enterprise_id', sa.Integer(), nullable=True))
    op.add_column('disbursements', sa.Column('grade', sa.String(length=1), nullable=True))
    op.execute(
        "UPDATE disbursements SET enterprise_id = "
        "(SELECT loans.enterprise_id FROM loans WHERE loans.id = disbursements.loan_id)"
    )
    op.execute(
        "UPDATE disbursements SET grade = "
        "(SELECT ratings.grade FROM ratings WHERE ratings.enterprise_id = disbursements.enterprise_id "
        "AND ratings.rated_on <= disbursements.disbursed_on ORDER BY ratings.rated_on DESC LIMIT 1)"
    )
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.alter_column('enterprise_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index(batch_op.f('ix_disbursements_disbursed_on'))
        batch_op.create_index(batch_op.f('ix_disbursements_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(
            'ix_disbursements_progress', ['disbursed_on', 'bank_id', 'enterprise_id', 'grade', 'amount'], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_disbursements_enterprise_id_enterprises'), 'enterprises', ['enterprise_id'], ['id']
        )

    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.create_index('ix_loans_bank_start_date', ['bank_id', 'start_date', 'id'], unique=False)
        batch_op.create_index('ix_loans_start_date', ['start_date', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_index('ix_loans_start_date')
        batch_op.drop_index('ix_loans_bank_start_date')

    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_disbursements_enterprise_id_enterprises'), type_='foreignkey')
        batch_op.drop_index('ix_disbursements_progress')
        batch_op.drop_index(batch_op.f('ix_disbursements_enterprise_id'))
        batch_op.create_index(batch_op.f('ix_disbursements_disbursed_on'), ['disbursed_on'], unique=False)
        batch_op.drop_column('grade')
        batch_op.drop_column('enterprise_id')
