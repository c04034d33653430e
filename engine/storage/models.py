"""SQLAlchemy 2 models for the whole product schema; the Alembic revisions mirror these.

Money columns are BigInteger raw units (lamports, token base units); timestamps are BigInteger
milliseconds UTC. Tables that become TimescaleDB hypertables (``ticks``, ``signals``) carry their
time column in the primary key, as hypertables require.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments a plain INTEGER primary key; PostgreSQL gets a 64-bit identity.
AutoId = BigInteger().with_variant(Integer(), "sqlite")
Address = String(44)
Signature = String(88)


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention (for migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: Json, list[Any]: Json}


class User(Base):
    """A person using the product, from Telegram, Discord or an API key."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    discord_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    role: Mapped[str] = mapped_column(String(16), default="user")
    api_key_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_ts: Mapped[int] = mapped_column(BigInteger)


class Token(Base):
    """A mint the product has seen, with its launch metadata (attacker-controlled text)."""

    __tablename__ = "tokens"
    mint: Mapped[str] = mapped_column(Address, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    symbol: Mapped[str | None] = mapped_column(String(64))
    uri: Mapped[str | None] = mapped_column(String(400))
    creator: Mapped[str | None] = mapped_column(Address, index=True)
    venue: Mapped[str | None] = mapped_column(String(32))
    token_program: Mapped[str | None] = mapped_column(Address)
    decimals: Mapped[int | None] = mapped_column(SmallInteger)
    supply: Mapped[int | None] = mapped_column(BigInteger)
    bonding_curve: Mapped[str | None] = mapped_column(Address)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    created_slot: Mapped[int | None] = mapped_column(BigInteger)
    created_ts: Mapped[int | None] = mapped_column(BigInteger, index=True)
    updated_ts: Mapped[int] = mapped_column(BigInteger)


class Pool(Base):
    """An AMM pool (PumpSwap, Raydium) trading a token against SOL or a stable."""

    __tablename__ = "pools"
    address: Mapped[str] = mapped_column(Address, primary_key=True)
    venue: Mapped[str] = mapped_column(String(32))
    mint: Mapped[str] = mapped_column(Address, index=True)
    base_mint: Mapped[str] = mapped_column(Address)
    quote_mint: Mapped[str] = mapped_column(Address)
    base_vault: Mapped[str | None] = mapped_column(Address)
    quote_vault: Mapped[str | None] = mapped_column(Address)
    lp_mint: Mapped[str | None] = mapped_column(Address)
    created_ts: Mapped[int] = mapped_column(BigInteger)


class Tick(Base):
    """One decoded trade or swap: the raw series behind windows, charts and backtests."""

    __tablename__ = "ticks"
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    signature: Mapped[str] = mapped_column(Signature, primary_key=True)
    idx: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger)
    mint: Mapped[str] = mapped_column(Address)
    venue: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    trader: Mapped[str] = mapped_column(Address)
    sol_lamports: Mapped[int] = mapped_column(BigInteger)
    token_amount: Mapped[int] = mapped_column(BigInteger)
    virtual_sol_reserves: Mapped[int | None] = mapped_column(BigInteger)
    virtual_token_reserves: Mapped[int | None] = mapped_column(BigInteger)
    pool: Mapped[str | None] = mapped_column(Address)
    __table_args__ = (
        Index("ix_ticks_mint_ts", "mint", "ts"),
        Index("ix_ticks_trader_ts", "trader", "ts"),
    )


class Wallet(Base):
    """A wallet in the global registry (featured lists, default alias and tags)."""

    __tablename__ = "wallets"
    address: Mapped[str] = mapped_column(Address, primary_key=True)
    alias: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    created_ts: Mapped[int] = mapped_column(BigInteger)


class WatchlistEntry(Base):
    """A user's tracked wallet with the user's own alias and tags."""

    __tablename__ = "watchlist"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(
        ForeignKey("wallets.address", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_watchlist_address", "address"),)


class SmartTrade(Base):
    """A fill by a tracked wallet: the feed behind Smart Activity and wallet stats."""

    __tablename__ = "smart_trades"
    signature: Mapped[str] = mapped_column(Signature, primary_key=True)
    idx: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    wallet: Mapped[str] = mapped_column(Address)
    mint: Mapped[str] = mapped_column(Address)
    venue: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    sol_lamports: Mapped[int] = mapped_column(BigInteger)
    token_amount: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        Index("ix_smart_trades_wallet_ts", "wallet", "ts"),
        Index("ix_smart_trades_mint_ts", "mint", "ts"),
        Index("ix_smart_trades_ts", "ts"),
    )


class Signal(Base):
    """A fired signal with everything needed to explain it."""

    __tablename__ = "signals"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mint: Mapped[str] = mapped_column(Address)
    version: Mapped[int] = mapped_column(Integer, default=1)
    strength: Mapped[float] = mapped_column(Float)
    components: Mapped[dict[str, Any]] = mapped_column()
    inputs: Mapped[dict[str, Any]] = mapped_column()
    rules: Mapped[list[Any]] = mapped_column()
    risk: Mapped[dict[str, Any]] = mapped_column(default=dict)
    narrative: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="live", server_default="live")
    """``live``, or ``retracted`` when a transaction it rested on was never confirmed."""
    __table_args__ = (
        Index("ix_signals_mint_ts", "mint", "ts"),
        Index("ix_signals_ts", "ts"),
        Index("ix_signals_strength_ts", "strength", "ts"),
    )


class RiskReport(Base):
    """The latest risk verdict for a mint, cached with an expiry."""

    __tablename__ = "risk_reports"
    mint: Mapped[str] = mapped_column(Address, primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    badges: Mapped[list[Any]] = mapped_column(default=list)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checked_ts: Mapped[int] = mapped_column(BigInteger)
    expires_ts: Mapped[int] = mapped_column(BigInteger)


class Rule(Base):
    """A rule's parameters as data: global when ``user_id`` is null, else the user's own."""

    __tablename__ = "rules"
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column()
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    updated_ts: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_rules_user_name"),)


class Order(Base):
    """A trading intent (market, TP, SL, trailing, DCA) owned by a user."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    mint: Mapped[str] = mapped_column(Address)
    side: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    amount_in: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_ts: Mapped[int] = mapped_column(BigInteger)
    updated_ts: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_orders_status_mint", "status", "mint"),)


class Trade(Base):
    """An executed (or attempted) swap; recorded once per idempotency key."""

    __tablename__ = "trades"
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    mint: Mapped[str] = mapped_column(Address)
    side: Mapped[str] = mapped_column(String(4))
    in_amount: Mapped[int] = mapped_column(BigInteger)
    out_amount: Mapped[int | None] = mapped_column(BigInteger)
    min_out_amount: Mapped[int | None] = mapped_column(BigInteger)
    signature: Mapped[str | None] = mapped_column(Signature, unique=True)
    status: Mapped[str] = mapped_column(String(16), default="prepared")
    error: Mapped[str | None] = mapped_column(Text)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    updated_ts: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_trades_user_created", "user_id", "created_ts"),)


class AutoTradeRule(Base):
    """A user's auto-trade rule as data (``engine.trading.autotrade``); off until enabled."""

    __tablename__ = "auto_trade_rules"
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column()
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    updated_ts: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        UniqueConstraint("user_id", "name", name="uq_auto_trade_rules_user_name"),
        Index("ix_auto_trade_rules_enabled", "enabled"),
    )


class Chat(Base):
    """A Telegram or Discord conversation: private chat, group or KOL channel."""

    __tablename__ = "chats"
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="en")
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_ts: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_chats_platform_ext"),)


class Subscription(Base):
    """What a chat wants pushed: signals above a Strength, wallet fills, TP/SL events."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    min_strength: Mapped[float] = mapped_column(Float, default=0.0)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("chat_id", "kind", name="uq_subscriptions_chat_kind"),)


class AlertDelivery(Base):
    """One alert to one chat: the key that makes fan-out exactly-once per chat.

    ``status`` moves ``pending`` → ``sending`` (committed before the HTTP call) → ``sent`` /
    ``failed`` / ``retry`` / ``in_doubt``; ``expired`` and ``digest`` as well (see
    ``engine.services.deliveries``). ``owner`` is the job run holding the row until ``lease_ts``.
    """

    __tablename__ = "alert_deliveries"
    alert_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    updated_ts: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str | None] = mapped_column(String(200))
    lease_ts: Mapped[int | None] = mapped_column(BigInteger)
    next_attempt_ts: Mapped[int | None] = mapped_column(BigInteger)
    expires_ts: Mapped[int | None] = mapped_column(BigInteger)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    __table_args__ = (Index("ix_alert_deliveries_status_next", "status", "next_attempt_ts"),)


class AuditLog(Base):
    """Append-only record of consequential actions; the database refuses updates and deletes."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    ts: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class JobOutbox(Base):
    """A job the scorer decided on, written in the same transaction as its batch.

    The queue (arq on Redis) can lose a job the database already counts on (Redis restarted
    without its data); a relay re-enqueues rows still not done after a while, under the same
    job id, and the job runners mark a row done when its job ends for good
    (``engine.jobs.outbox``).
    """

    __tablename__ = "job_outbox"
    job_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kwargs: Mapped[dict[str, Any]] = mapped_column()
    created_ts: Mapped[int] = mapped_column(BigInteger)
    done_ts: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_job_outbox_done_created", "done_ts", "created_ts"),)


HYPERTABLES = {"ticks": "ts", "signals": "ts"}
"""Tables turned into TimescaleDB hypertables, with their integer-millisecond time column."""
