"""Alert deliveries that survive 429 storms and killed workers: owner, lease, retry, expiry, parts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('lease_ts', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_ts', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('expires_ts', sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column('parts_sent', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.create_index(
            'ix_alert_deliveries_status_next', ['status', 'next_attempt_ts'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_deliveries_status_next')
        batch_op.drop_column('parts_sent')
        batch_op.drop_column('expires_ts')
        batch_op.drop_column('next_attempt_ts')
        batch_op.drop_column('lease_ts')
        batch_op.drop_column('owner')
