"""separation of duties

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 03:10:00.000000

Who last changed a decision (`decisions.last_edited_by`: its answers or details), and who
proposed the version an approval step decides (`approvals.proposed_by`): an approval by the
proposer or by the last editor is refused (app/decisions/approvals.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_edited_by', sa.String(length=200), nullable=True))
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposed_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.drop_column('proposed_by')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_column('last_edited_by')
