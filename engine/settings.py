"""One validated settings object for every process, read from ``SOLAI_*`` variables and ``.env``.

The defaults are the embedded ones (SQLite file, in-process bus and jobs, the local chain
simulator, the template narrator); setting ``SOLAI_DATABASE_URL`` or ``SOLAI_REDIS_URL`` switches
storage or the bus and jobs to PostgreSQL or Redis with no other change.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "SOLAI_"

_DB_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_PLACEHOLDERS = {"changeme", "change-me", "secret", "example", "xxx", ""}


class ConfigError(RuntimeError):
    """A setting is missing, malformed or points at something unreachable."""


class RpcProvider(BaseModel):
    """One Solana RPC provider: HTTP and WebSocket endpoints and a request budget."""

    name: str = Field(min_length=1, max_length=64)
    http_url: str
    ws_url: str
    requests_per_s: float = Field(default=50.0, gt=0)

    @field_validator("http_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if urlsplit(v).scheme not in {"http", "https"} or not urlsplit(v).netloc:
            raise ValueError(f"http_url must be an http(s) URL, got {v!r}")
        return v

    @field_validator("ws_url")
    @classmethod
    def _ws(cls, v: str) -> str:
        if urlsplit(v).scheme not in {"ws", "wss"} or not urlsplit(v).netloc:
            raise ValueError(f"ws_url must be a ws(s) URL, got {v!r}")
        return v


def _default_providers() -> list[RpcProvider]:
    return [
        RpcProvider(
            name="simulator", http_url="http://127.0.0.1:8899", ws_url="ws://127.0.0.1:8900"
        )
    ]


class Settings(BaseSettings):
    """Every setting of every SolAI process; see .env.example for the documentation of each."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    env: Literal["development", "production", "test"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    database_url: str = "sqlite+aiosqlite:///./var/solai.db"
    redis_url: str | None = None
    job_queue: str = Field(default="solai:jobs", min_length=1, max_length=100)
    """The arq queue (Redis key) the workers take jobs from and the processes enqueue to."""
    metrics_host: str = "127.0.0.1"
    """Where ``--metrics-port`` binds (/metrics, /ops/*); 0.0.0.0 in a container to be scraped."""
    bus_prefix: str = Field(default="solai:", min_length=1, max_length=100)
    """Prefix of the bus's Redis keys; give deployments sharing a Redis their own."""
    bus_partitions: int = Field(default=8, ge=1, le=1024)
    bus_maxlen: int = Field(default=1_000_000, ge=1000)

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8000"

    rpc_providers: Annotated[list[RpcProvider], NoDecode] = Field(
        default_factory=_default_providers
    )
    rpc_timeout_s: float = Field(default=10.0, gt=0)
    rpc_commitment: Literal["processed", "confirmed", "finalized"] = "confirmed"
    """``processed`` alerts ~a second sooner, but a signal may be retracted (see architecture)."""
    rpc_confirm_expiry_slots: int = Field(default=150, ge=1)
    """At ``processed``: slots after which a transaction not confirmed is retracted."""

    jupiter_url: str = "http://127.0.0.1:8898/swap/v1"
    jupiter_api_key: SecretStr | None = None
    jupiter_timeout_s: float = Field(default=10.0, gt=0, le=120)

    trade_slippage_bps: int = Field(default=100, ge=0, le=10_000)
    trade_max_slippage_bps: int = Field(default=1_500, ge=0, le=10_000)
    trade_max_price_impact_pct: float = Field(default=15.0, gt=0, le=100)
    trade_max_lamports: int = Field(default=10_000_000_000, ge=1)
    trade_daily_max_lamports: int = Field(default=50_000_000_000, ge=1)
    trade_confirm_above_lamports: int = Field(default=2_000_000_000, ge=0)
    trade_prepare_ttl_s: int = Field(default=90, ge=5, le=3600)
    trade_confirm_poll_s: float = Field(default=2.0, gt=0, le=60)

    api_rate_per_ip_per_s: float = Field(default=20.0, gt=0)
    api_burst_per_ip: int = Field(default=60, ge=1)
    api_rate_per_key_per_s: float = Field(default=10.0, gt=0)
    api_burst_per_key: int = Field(default=30, ge=1)
    admin_telegram_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    telegram_token: SecretStr | None = None
    telegram_bot_api_url: str = "https://api.telegram.org/bot"
    telegram_webapp_name: str = "app"
    telegram_bot_username: str | None = None
    telegram_webapp_js_url: str = "https://telegram.org/js/telegram-web-app.js"
    telegram_init_data_max_age_s: int = Field(default=3600, ge=1)
    discord_token: SecretStr | None = None
    alert_ttl_s: int = Field(default=600, ge=1, le=86_400)
    """A market alert not delivered this long after its fan-out began is ``expired``, not sent."""
    alert_slice_s: float = Field(default=60.0, gt=0, le=240)
    """One fan-out job sends for at most this long; the rest goes on in a follow-up job."""

    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    anthropic_model: str = "claude-sonnet-4-6"
    anthropic_timeout_s: float = Field(default=30.0, gt=0)
    agent_daily_token_budget: int = Field(default=200_000, ge=0)

    secret_key: SecretStr = SecretStr("dev-only-not-secret")
    demo_wallet: bool = False
    """The Mini App injects a browser-generated demo wallet (``solai demo`` only; never prod)."""

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        try:
            url = make_url(v)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from exc
        driver = _DB_DRIVERS.get(url.drivername)
        if driver is None:
            raise ValueError(
                f"unsupported database {url.drivername!r}: use sqlite+aiosqlite:///PATH "
                "or postgresql+asyncpg://USER@HOST:PORT/DB"
            )
        if driver.startswith("postgresql") and not url.database:
            raise ValueError("a PostgreSQL URL must name the database (…/DBNAME)")
        if driver.startswith("sqlite") and url.database is None:
            raise ValueError("a SQLite URL must name a file (sqlite+aiosqlite:///PATH)")
        return url.set(drivername=driver).render_as_string(hide_password=False)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if v is None or v.strip() == "":
            return None
        parts = urlsplit(v)
        if parts.scheme not in {"redis", "rediss", "unix"}:
            raise ValueError(f"must start with redis://, rediss:// or unix://, got {v[:40]!r}")
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("names no host (redis://HOST:PORT/DB)")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"has a bad port ({exc})") from exc
        return v

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _admin_ids(cls, v: Any) -> Any:
        if isinstance(v, str):
            parts = [p.strip() for p in v.replace(";", ",").split(",") if p.strip()]
            if not all(p.lstrip("-").isdigit() for p in parts):
                raise ValueError(f"must be comma-separated Telegram user ids, got {v[:60]!r}")
            return [int(p) for p in parts]
        return v

    @field_validator("rpc_providers", mode="before")
    @classmethod
    def _providers(cls, v: Any) -> Any:
        if isinstance(v, str):
            import json

            try:
                v = json.loads(v)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    'must be JSON: [{"name":…,"http_url":…,"ws_url":…}, …] in priority order'
                    f" ({exc.msg} at char {exc.pos})"
                ) from exc
        if isinstance(v, list) and not v:
            raise ValueError("needs at least one provider")
        return v

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.env == "production":
            if self.secret_key.get_secret_value().lower() in _PLACEHOLDERS | {
                "dev-only-not-secret"
            }:
                raise ValueError("SOLAI_SECRET_KEY must be set to a real secret in production")
            if self.demo_wallet:
                # A wallet whose key sits in localStorage is for a simulated chain, never money.
                raise ValueError("SOLAI_DEMO_WALLET is for the local demo; refused in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when storage is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    @property
    def embedded(self) -> bool:
        """True when bus and jobs run in-process (no Redis configured)."""
        return self.redis_url is None


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{ENV_PREFIX}{field.upper()}: {msg}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once; tests build their own with ``load_settings``."""
    return load_settings()
