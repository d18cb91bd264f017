"""Documents (PDF store), scheduled job runs, DPD snapshots, reconciliation results and closed months

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 17:51:44.948587

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('closed_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('signed_off_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signed_off_by', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.CheckConstraint('length(period) = 7', name=op.f('ck_closed_periods_period_format')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closed_periods')),
    sa.UniqueConstraint('period', name=op.f('uq_closed_periods_period'))
    )
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('progress_done', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('triggered_by', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=True),
    sa.CheckConstraint("status IN ('running', 'succeeded', 'failed', 'skipped')", name=op.f('ck_job_runs_known_status')),
    sa.CheckConstraint('progress_done >= 0', name=op.f('ck_job_runs_progress_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('job', 'period', name=op.f('uq_job_runs_job_period'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_started_at', ['started_at'], unique=False)

    op.create_table('reconciliation_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('run_by', sa.String(length=64), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('difference_count', sa.Integer(), nullable=False),
    sa.Column('differences', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('checks', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('signed_off_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signed_off_by', sa.String(length=64), nullable=True),
    sa.Column('sign_off_comment', sa.Text(), nullable=True),
    sa.CheckConstraint("(status = 'signed_off') = (signed_off_at IS NOT NULL)", name=op.f('ck_reconciliation_results_signed_off_dated')),
    sa.CheckConstraint("status IN ('balanced', 'differences', 'signed_off')", name=op.f('ck_reconciliation_results_known_status')),
    sa.CheckConstraint('difference_count >= 0', name=op.f('ck_reconciliation_results_count_not_negative')),
    sa.CheckConstraint('length(period) = 7', name=op.f('ck_reconciliation_results_period_format')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_results')),
    sa.UniqueConstraint('period', name=op.f('uq_reconciliation_results_period'))
    )
    op.create_table('documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('period', sa.String(length=7), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('owner_type', sa.String(length=16), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('series', sa.String(length=120), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('rows_xlsx', sa.LargeBinary(), nullable=True),
    sa.Column('has_rows', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.CheckConstraint('owner_id IS NULL OR owner_type IS NOT NULL', name=op.f('ck_documents_owner_has_type')),
    sa.CheckConstraint('size > 0', name=op.f('ck_documents_positive_size')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_documents_positive_version')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_documents_bank_id_banks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('kind', 'owner_type', 'owner_id', 'period', 'version', name='uq_documents_version'),
    sa.UniqueConstraint('series', 'version', name='uq_documents_series_version')
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index('ix_documents_bank_kind', ['bank_id', 'kind'], unique=False)
        batch_op.create_index('ix_documents_kind_period', ['kind', 'period'], unique=False)
        batch_op.create_index('ix_documents_owner', ['owner_type', 'owner_id'], unique=False)

    op.create_table('loan_dpd_snapshots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dpd', sa.Integer(), nullable=False),
    sa.Column('classification', sa.String(length=16), nullable=False),
    sa.Column('outstanding_principal', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_loan_dpd_snapshots_bank_id_banks')),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_loan_dpd_snapshots_loan_id_loans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_dpd_snapshots')),
    sa.UniqueConstraint('loan_id', 'day', name=op.f('uq_loan_dpd_snapshots_loan_id_day'))
    )
    with op.batch_alter_table('loan_dpd_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_loan_dpd_snapshots_day_bank', ['day', 'bank_id'], unique=False)



def downgrade():
    with op.batch_alter_table('loan_dpd_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_loan_dpd_snapshots_day_bank')

    op.drop_table('loan_dpd_snapshots')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_owner')
        batch_op.drop_index('ix_documents_kind_period')
        batch_op.drop_index('ix_documents_bank_kind')

    op.drop_table('documents')
    op.drop_table('reconciliation_results')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_started_at')

    op.drop_table('job_runs')
    op.drop_table('closed_periods')
