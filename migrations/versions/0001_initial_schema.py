"""Initial schema: every table of the product, hypertables when TimescaleDB exists.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21 05:15:40.923824
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _create_tables()
    _append_only_audit_log()
    _hypertables_if_available()


def _create_tables() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_ts'), ['ts'], unique=False)

    op.create_table('pools',
    sa.Column('address', sa.String(length=44), nullable=False),
    sa.Column('venue', sa.String(length=32), nullable=False),
    sa.Column('mint', sa.String(length=44), nullable=False),
    sa.Column('base_mint', sa.String(length=44), nullable=False),
    sa.Column('quote_mint', sa.String(length=44), nullable=False),
    sa.Column('base_vault', sa.String(length=44), nullable=True),
    sa.Column('quote_vault', sa.String(length=44), nullable=True),
    sa.Column('lp_mint', sa.String(length=44), nullable=True),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_pools'))
    )
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pools_mint'), ['mint'], unique=False)

    op.create_table('risk_reports',
    sa.Column('mint', sa.String(length=44), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('badges', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('checked_ts', sa.BigInteger(), nullable=False),
    sa.Column('expires_ts', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('mint', name=op.f('pk_risk_reports'))
    )
    op.create_table('signals',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('mint', sa.String(length=44), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('strength', sa.Float(), nullable=False),
    sa.Column('components', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('inputs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('risk', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('narrative', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', 'ts', name=op.f('pk_signals'))
    )
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.create_index('ix_signals_mint_ts', ['mint', 'ts'], unique=False)
        batch_op.create_index('ix_signals_strength_ts', ['strength', 'ts'], unique=False)
        batch_op.create_index('ix_signals_ts', ['ts'], unique=False)

    op.create_table('smart_trades',
    sa.Column('signature', sa.String(length=88), nullable=False),
    sa.Column('idx', sa.SmallInteger(), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('wallet', sa.String(length=44), nullable=False),
    sa.Column('mint', sa.String(length=44), nullable=False),
    sa.Column('venue', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('sol_lamports', sa.BigInteger(), nullable=False),
    sa.Column('token_amount', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('signature', 'idx', name=op.f('pk_smart_trades'))
    )
    with op.batch_alter_table('smart_trades', schema=None) as batch_op:
        batch_op.create_index('ix_smart_trades_mint_ts', ['mint', 'ts'], unique=False)
        batch_op.create_index('ix_smart_trades_ts', ['ts'], unique=False)
        batch_op.create_index('ix_smart_trades_wallet_ts', ['wallet', 'ts'], unique=False)

    op.create_table('ticks',
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('signature', sa.String(length=88), nullable=False),
    sa.Column('idx', sa.SmallInteger(), nullable=False),
    sa.Column('slot', sa.BigInteger(), nullable=False),
    sa.Column('mint', sa.String(length=44), nullable=False),
    sa.Column('venue', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('trader', sa.String(length=44), nullable=False),
    sa.Column('sol_lamports', sa.BigInteger(), nullable=False),
    sa.Column('token_amount', sa.BigInteger(), nullable=False),
    sa.Column('virtual_sol_reserves', sa.BigInteger(), nullable=True),
    sa.Column('virtual_token_reserves', sa.BigInteger(), nullable=True),
    sa.Column('pool', sa.String(length=44), nullable=True),
    sa.PrimaryKeyConstraint('ts', 'signature', 'idx', name=op.f('pk_ticks'))
    )
    with op.batch_alter_table('ticks', schema=None) as batch_op:
        batch_op.create_index('ix_ticks_mint_ts', ['mint', 'ts'], unique=False)
        batch_op.create_index('ix_ticks_trader_ts', ['trader', 'ts'], unique=False)

    op.create_table('tokens',
    sa.Column('mint', sa.String(length=44), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('symbol', sa.String(length=64), nullable=True),
    sa.Column('uri', sa.String(length=400), nullable=True),
    sa.Column('creator', sa.String(length=44), nullable=True),
    sa.Column('venue', sa.String(length=32), nullable=True),
    sa.Column('token_program', sa.String(length=44), nullable=True),
    sa.Column('decimals', sa.SmallInteger(), nullable=True),
    sa.Column('supply', sa.BigInteger(), nullable=True),
    sa.Column('bonding_curve', sa.String(length=44), nullable=True),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('created_slot', sa.BigInteger(), nullable=True),
    sa.Column('created_ts', sa.BigInteger(), nullable=True),
    sa.Column('updated_ts', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('mint', name=op.f('pk_tokens'))
    )
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tokens_created_ts'), ['created_ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_tokens_creator'), ['creator'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('telegram_id', sa.BigInteger(), nullable=True),
    sa.Column('discord_id', sa.BigInteger(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('api_key_hash', sa.String(length=128), nullable=True),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('api_key_hash', name=op.f('uq_users_api_key_hash')),
    sa.UniqueConstraint('discord_id', name=op.f('uq_users_discord_id')),
    sa.UniqueConstraint('telegram_id', name=op.f('uq_users_telegram_id'))
    )
    op.create_table('wallets',
    sa.Column('address', sa.String(length=44), nullable=False),
    sa.Column('alias', sa.String(length=64), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('featured', sa.Boolean(), nullable=False),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_wallets'))
    )
    op.create_table('chats',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('owner_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['owner_user_id'], ['users.id'], name=op.f('fk_chats_owner_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chats')),
    sa.UniqueConstraint('platform', 'external_id', name='uq_chats_platform_ext')
    )
    op.create_table('orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('mint', sa.String(length=44), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('amount_in', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.Column('updated_ts', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['orders.id'], name=op.f('fk_orders_parent_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_orders_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_orders_idempotency_key'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_status_mint', ['status', 'mint'], unique=False)

    op.create_table('rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.Column('updated_ts', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_rules_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rules')),
    sa.UniqueConstraint('user_id', 'name', name='uq_rules_user_name')
    )
    op.create_table('watchlist',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=44), nullable=False),
    sa.Column('alias', sa.String(length=64), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['address'], ['wallets.address'], name=op.f('fk_watchlist_address_wallets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_watchlist_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'address', name=op.f('pk_watchlist'))
    )
    with op.batch_alter_table('watchlist', schema=None) as batch_op:
        batch_op.create_index('ix_watchlist_address', ['address'], unique=False)

    op.create_table('alert_deliveries',
    sa.Column('alert_key', sa.String(length=128), nullable=False),
    sa.Column('chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('updated_ts', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_alert_deliveries_chat_id_chats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('alert_key', 'chat_id', name=op.f('pk_alert_deliveries'))
    )
    op.create_table('subscriptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('min_strength', sa.Float(), nullable=False),
    sa.Column('filters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_subscriptions_chat_id_chats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('chat_id', 'kind', name='uq_subscriptions_chat_kind')
    )
    op.create_table('trades',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('mint', sa.String(length=44), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('in_amount', sa.BigInteger(), nullable=False),
    sa.Column('out_amount', sa.BigInteger(), nullable=True),
    sa.Column('min_out_amount', sa.BigInteger(), nullable=True),
    sa.Column('signature', sa.String(length=88), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_ts', sa.BigInteger(), nullable=False),
    sa.Column('updated_ts', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_trades_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_trades_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trades')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_trades_idempotency_key')),
    sa.UniqueConstraint('signature', name=op.f('uq_trades_signature'))
    )
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.create_index('ix_trades_user_created', ['user_id', 'created_ts'], unique=False)



def downgrade() -> None:
    _drop_audit_guard()
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_index('ix_trades_user_created')

    op.drop_table('trades')
    op.drop_table('subscriptions')
    op.drop_table('alert_deliveries')
    with op.batch_alter_table('watchlist', schema=None) as batch_op:
        batch_op.drop_index('ix_watchlist_address')

    op.drop_table('watchlist')
    op.drop_table('rules')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_status_mint')

    op.drop_table('orders')
    op.drop_table('chats')
    op.drop_table('wallets')
    op.drop_table('users')
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tokens_creator'))
        batch_op.drop_index(batch_op.f('ix_tokens_created_ts'))

    op.drop_table('tokens')
    with op.batch_alter_table('ticks', schema=None) as batch_op:
        batch_op.drop_index('ix_ticks_trader_ts')
        batch_op.drop_index('ix_ticks_mint_ts')

    op.drop_table('ticks')
    with op.batch_alter_table('smart_trades', schema=None) as batch_op:
        batch_op.drop_index('ix_smart_trades_wallet_ts')
        batch_op.drop_index('ix_smart_trades_ts')
        batch_op.drop_index('ix_smart_trades_mint_ts')

    op.drop_table('smart_trades')
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index('ix_signals_ts')
        batch_op.drop_index('ix_signals_strength_ts')
        batch_op.drop_index('ix_signals_mint_ts')

    op.drop_table('signals')
    op.drop_table('risk_reports')
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pools_mint'))

    op.drop_table('pools')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_ts'))

    op.drop_table('audit_log')


# The audit log is append-only: the database itself refuses UPDATE and DELETE on it.
_PG_GUARD = """
CREATE OR REPLACE FUNCTION solai_audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql
"""


def _append_only_audit_log() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION solai_audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def _drop_audit_guard() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS solai_audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")


def _hypertables_if_available() -> None:
    """Turn ticks and signals into hypertables when the TimescaleDB extension can be had."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).scalar()
    if not available:
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    day_ms = 86_400_000
    for table in ("ticks", "signals"):
        op.execute(
            f"SELECT create_hypertable('{table}', 'ts', chunk_time_interval => {day_ms}, "
            "migrate_data => true, if_not_exists => true)"
        )
