"""probe run owner

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00.000000

The process holding a probe run (host:pid:random), written when it queues or claims the run;
with heartbeat_at it makes the run's lease (app/probe/background.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('probe_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('probe_runs', schema=None) as batch_op:
        batch_op.drop_column('owner')
