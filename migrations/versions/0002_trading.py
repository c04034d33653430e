"""Trading: auto-trade rules (orders and positions live in orders.params and trades).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('auto_trade_rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.Column('updated_ts', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auto_trade_rules_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auto_trade_rules')),
    sa.UniqueConstraint('user_id', 'name', name='uq_auto_trade_rules_user_name')
    )
    with op.batch_alter_table('auto_trade_rules', schema=None) as batch_op:
        batch_op.create_index('ix_auto_trade_rules_enabled', ['enabled'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('auto_trade_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_auto_trade_rules_enabled')

    op.drop_table('auto_trade_rules')
