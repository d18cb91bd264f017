"""Ratings record who entered them

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 18:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        # Ratings entered before this revision were entered by the system's loaders.
        batch_op.add_column(sa.Column('created_by', sa.String(length=64), nullable=False, server_default='system'))


def downgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_column('created_by')
