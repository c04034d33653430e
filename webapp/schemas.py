"""Request and response models of the REST API and the WebSocket stream.

Naming follows ``XCreate`` / ``XUpdate`` (requests) and ``XPublic`` (responses). Conventions:

* timestamps are integer milliseconds UTC (``*_ts``, ``ts``);
* money is integers in raw units: lamports for SOL, base units for tokens. JSON numbers are exact
  up to 2^53 in JavaScript; values that can exceed that (raw token supplies) are decimal strings
  and their description says so. Trade amounts are integers below 2^63;
* floats appear only for display and scores (Strength 0.0-3.0, prices, percentages);
* token names and symbols are attacker-controlled text: clients escape them.

Every error has the shape of :class:`ErrorPublic`.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

Side = Literal["buy", "sell"]
Role = Literal["anonymous", "user", "admin"]
TradeStatus = Literal["prepared", "submitted", "confirmed", "failed", "expired"]
Topic = Literal["signals", "smart_activity", "trades"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- shared ------------------------------------------------------------------------------------


class ErrorDetail(_Model):
    """What went wrong: a stable machine ``code`` and an English ``message``."""

    code: str = Field(description="Stable identifier, e.g. `expired_init_data`, `risk_blocked`.")
    message: str


class ErrorPublic(_Model):
    """The one error shape of the API."""

    error: ErrorDetail
    request_id: str | None = Field(description="Echoed `x-request-id`; quote it in reports.")


class Page(_Model, Generic[T]):
    """One page of a list, newest first; pass ``next_cursor`` as ``cursor`` for the next page."""

    items: list[T]
    next_cursor: str | None = Field(description="Opaque; null on the last page.")


class RiskPublic(_Model):
    """A token's risk verdict; ``known`` false means not checked yet, which blocks buys."""

    known: bool
    level: Literal["low", "medium", "high", "critical", "unknown"] | str
    badges: list[str] = Field(description="e.g. `mint_authority`, `freeze_authority`, `tax_5pct`.")
    blocks_buy: bool = Field(description="True: no buy is offered (critical or unknown risk).")
    checked_ts: int | None


# -- signals and tokens ------------------------------------------------------------------------


class RuleFiredPublic(_Model):
    """One rule evaluated for a signal (trigger or filter) and its outcome."""

    name: str
    kind: str
    title: str
    role: Literal["trigger", "filter"] | str
    passed: bool
    summary: str


class SignalPublic(_Model):
    """A fired signal with everything needed to explain it."""

    id: int
    ts: int
    mint: str
    symbol: str | None = Field(description="Untrusted text.")
    name: str | None = Field(description="Untrusted text.")
    strength: float = Field(ge=0.0, le=3.0, description="Strength 0.0-3.0.")
    components: dict[str, float] = Field(description="Component scores that make up Strength.")
    rules: list[RuleFiredPublic]
    risk: RiskPublic
    narrative: str | None = Field(description="The agent's short narrative, when written.")
    explanation: str | None
    status: Literal["live", "retracted"] = Field(
        default="live",
        description=(
            "retracted: a transaction it rested on was never confirmed (ingest at processed)."
        ),
    )


class SmartBuyPublic(_Model):
    """A recent buy of the token by a tracked wallet."""

    wallet: str
    alias: str | None
    lamports: int
    ts: int


class TokenPublic(_Model):
    """What we know about a token now."""

    mint: str
    name: str | None = Field(description="Untrusted text.")
    symbol: str | None = Field(description="Untrusted text.")
    venue: str | None
    complete: bool = Field(description="The bonding curve completed (migrated or migrating).")
    created_ts: int | None
    decimals: int | None
    supply: str | None = Field(
        description="Raw total supply as a decimal string (can exceed 2^53)."
    )
    price_lamports_per_token: float | None = Field(
        description="Lamports per raw token unit, from the last trade's reserves."
    )
    market_cap_lamports: int | None
    liquidity_lamports: int | None
    volume_24h_lamports: int
    risk: RiskPublic
    signal: SignalPublic | None = Field(description="The newest signal of this token.")
    smart_buys: list[SmartBuyPublic]
    near_miss: str | None = Field(description="Why there is no signal, when known.")


TimeseriesField = Literal["price", "mcap", "volume", "trades"]


class TimeseriesPointPublic(_Model):
    """One bucket of the series; fields not asked for are null."""

    ts: int = Field(description="Bucket start, ms UTC.")
    price: float | None = Field(default=None, description="Close price, lamports per raw unit.")
    mcap: int | None = Field(default=None, description="Close market cap, lamports.")
    volume: int | None = Field(default=None, description="SOL traded in the bucket, lamports.")
    trades: int | None = None


class TimeseriesPublic(_Model):
    """A token's price / market cap / volume series, bucketed."""

    mint: str
    since_ts: int
    until_ts: int
    interval_ms: int
    fields: list[TimeseriesField]
    points: list[TimeseriesPointPublic]


class SmartActivityPublic(_Model):
    """One fill by a tracked wallet, with price and market cap at the fill."""

    ts: int
    wallet: str
    alias: str | None
    mint: str
    symbol: str | None = Field(description="Untrusted text.")
    side: Side
    sol_lamports: int
    token_amount: int
    price_lamports_per_token: float
    market_cap_lamports: int
    signature: str


# -- wallets (watchlist) -----------------------------------------------------------------------


class WalletPublic(_Model):
    """A tracked wallet in the caller's watchlist."""

    address: str
    alias: str | None
    tags: list[str]
    monitors: int = Field(description="How many users watch this address.")
    balance_lamports: int | None = Field(description="Null when the RPC could not tell.")


class WalletCreate(_Model):
    """Track a wallet (or update its alias and tags)."""

    address: str = Field(min_length=32, max_length=44)
    alias: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, max_length=16)


class WalletUpdate(_Model):
    """Change a tracked wallet's alias or add tags."""

    alias: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, max_length=16)


class RowErrorPublic(_Model):
    """A rejected line of an import file."""

    line: int
    message: str


class WalletImportPublic(_Model):
    """Outcome of a CSV/JSON import: valid rows are kept, bad rows are listed."""

    imported: int
    errors: list[RowErrorPublic]


# -- rules -------------------------------------------------------------------------------------


class RulePublic(_Model):
    """One effective rule of the caller (default, global or their own)."""

    name: str
    kind: str
    title: str
    role: str
    enabled: bool
    params: dict[str, Any]
    origin: Literal["default", "global", "user"]


class RuleCreate(_Model):
    """Create or replace one of the caller's rules; ``params`` are validated per ``kind``."""

    name: str = Field(min_length=1, max_length=48)
    kind: str = Field(min_length=1, max_length=32)
    params: dict[str, Any] = Field(default_factory=dict)


class RuleUpdate(_Model):
    """Enable or disable a rule by name."""

    enabled: bool


# -- trading -----------------------------------------------------------------------------------


class QuoteRequest(_Model):
    """A buy (``amount`` in lamports) or a sell (``amount`` in raw token units)."""

    mint: str = Field(min_length=32, max_length=44)
    side: Side
    amount: int = Field(gt=0, lt=1 << 63, description="Lamports (buy) or raw token units (sell).")
    slippage_bps: int | None = Field(
        default=None, ge=0, le=10_000, description="Default: SOLAI_TRADE_SLIPPAGE_BPS."
    )


class RouteStepPublic(_Model):
    """One hop of the route."""

    label: str
    amm_key: str
    in_amount: int
    out_amount: int


class QuotePublic(_Model):
    """A current quote: what goes in, what comes out, and the minimum accepted."""

    mint: str
    side: Side
    input_mint: str
    output_mint: str
    in_amount: int
    out_amount: int
    min_out_amount: int = Field(description="out_amount less slippage: the swap fails below it.")
    slippage_bps: int
    price_impact_pct: float = Field(description="Percent, e.g. 1.5 for 1.5%.")
    route: list[RouteStepPublic]
    context_slot: int | None
    risk: RiskPublic


class PrepareRequest(QuoteRequest):
    """Build an unsigned swap for the caller's linked wallet from a fresh quote."""

    priority_fee_lamports: int | None = Field(
        default=None, ge=0, le=100_000_000, description="Total priority fee; default none."
    )
    dynamic_compute_unit_limit: bool = Field(
        default=True,
        description="Let Jupiter simulate and set the compute unit limit (else 1.4M units).",
    )
    confirm: bool = Field(
        default=False, description="Set after the user confirmed a trade above the threshold."
    )


class PreparedTradePublic(_Model):
    """An unsigned transaction for the user's wallet to sign, then ``POST /trade/submit``."""

    prepared_id: str = Field(description="Pass back in SubmitRequest.")
    mint: str
    side: Side
    wallet: str
    transaction: str = Field(description="Unsigned versioned (v0) transaction, base64.")
    last_valid_block_height: int
    in_amount: int
    out_amount: int
    min_out_amount: int
    slippage_bps: int
    price_impact_pct: float
    priority_fee_lamports: int
    expires_ts: int = Field(description="Submit before this; prepare again after.")
    risk: RiskPublic


class SubmitRequest(_Model):
    """The transaction from ``/trade/prepare``, signed by the user's wallet, base64."""

    prepared_id: str = Field(min_length=1, max_length=64)
    signed_transaction: str = Field(min_length=1, max_length=8192)


class TradePublic(_Model):
    """A submitted trade and how it is going."""

    id: int
    mint: str
    side: Side
    status: TradeStatus
    in_amount: int
    out_amount: int | None = Field(description="Read from the confirmed transaction.")
    min_out_amount: int | None
    signature: str | None
    error: str | None
    created_ts: int
    updated_ts: int


# -- the caller --------------------------------------------------------------------------------


class MePublic(_Model):
    """The authenticated caller."""

    id: int
    telegram_id: int | None
    username: str | None
    language: str
    role: Role
    wallet: str | None = Field(description="The linked Solana wallet, if any.")
    created_ts: int


class WalletChallengePublic(_Model):
    """Sign ``message`` (UTF-8 bytes) with the wallet, then ``POST /me/wallet``."""

    nonce: str
    message: str
    expires_ts: int


class WalletLinkCreate(_Model):
    """Proof of ownership: an ed25519 signature by ``address`` over the challenge message."""

    address: str = Field(min_length=32, max_length=44)
    nonce: str = Field(min_length=1, max_length=256)
    signature: str = Field(min_length=64, max_length=128, description="base58, 64 bytes.")


class ApiKeyPublic(_Model):
    """A new API key: shown once, only its hash is stored. Use ``Authorization: Bearer``."""

    key: str
    created_ts: int


# -- Phantom deeplinks -------------------------------------------------------------------------


class PhantomConnectCreate(_Model):
    """Start a Phantom deeplink session; ``redirect_link`` is where Phantom returns to."""

    redirect_link: str = Field(min_length=1, max_length=512)
    cluster: Literal["mainnet-beta", "testnet", "devnet"] = "mainnet-beta"


class PhantomConnectPublic(_Model):
    """Open ``url``; keep ``state`` (opaque, sealed by the server) for the next calls."""

    url: str
    state: str


class PhantomConnectedCreate(_Model):
    """The query parameters Phantom appended to the redirect after ``connect``."""

    state: str = Field(min_length=1, max_length=1024)
    phantom_encryption_public_key: str = Field(min_length=1, max_length=64)
    nonce: str = Field(min_length=1, max_length=64)
    data: str = Field(min_length=1, max_length=8192)


class PhantomSessionPublic(_Model):
    """The decrypted connect answer; ``state`` now carries Phantom's key too."""

    public_key: str
    session: str
    state: str


class PhantomSignCreate(_Model):
    """Ask Phantom to sign a prepared transaction."""

    state: str = Field(min_length=1, max_length=1024)
    session: str = Field(min_length=1, max_length=2048)
    transaction: str = Field(min_length=1, max_length=8192, description="base64, unsigned.")
    redirect_link: str = Field(min_length=1, max_length=512)


class PhantomSignPublic(_Model):
    """Open ``url`` to let the user sign in Phantom."""

    url: str


class PhantomSignedCreate(_Model):
    """The query parameters Phantom appended to the redirect after ``signTransaction``."""

    state: str = Field(min_length=1, max_length=1024)
    nonce: str = Field(min_length=1, max_length=64)
    data: str = Field(min_length=1, max_length=16384)


class PhantomSignedPublic(_Model):
    """The signed transaction, base64, ready for ``POST /trade/submit``."""

    signed_transaction: str


# -- ops and stream ----------------------------------------------------------------------------


class ReadinessPublic(_Model):
    """Whether the process's dependencies answer."""

    status: Literal["ready", "degraded"]
    mode: Literal["embedded", "production"]
    checks: dict[str, str]


class StreamMessagePublic(_Model):
    """One WebSocket frame: ``topic`` and its ``data`` (a SignalPublic-like signal payload, a
    SmartActivityPublic, or a TradePublic); ``type`` is ``event``, ``hello`` or ``dropped``."""

    type: Literal["hello", "event", "dropped"]
    topic: Topic | None = None
    id: str | None = None
    data: dict[str, Any] | None = None
