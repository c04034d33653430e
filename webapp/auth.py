"""Who is calling: Telegram Mini App ``initData``, API keys, or nobody; roles and rate limits.

``Authorization: tma <initData>`` is validated as Telegram specifies for Mini Apps: the secret key
is HMAC-SHA256 with the key ``"WebAppData"`` over the bot token, and the ``hash`` field must be
HMAC-SHA256 under that secret of the data-check-string (every other field, URL-decoded, sorted
by key, ``key=value`` joined by newlines), compared in constant time; ``auth_date`` must be
younger than ``SOLAI_TELEGRAM_INIT_DATA_MAX_AGE_S``. Since Bot API 8.0 initData also carries
``signature`` (for third parties, checked with Telegram's Ed25519 key, see
:func:`check_init_data_third_party`); Telegram's text keeps it in the data-check-string for the
HMAC, and so do we.

``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` identify programmatic users; only the
SHA-256 of a key is stored. Failures are 401 with a code naming what is wrong
(``expired_init_data``, ``bad_hash``, ``missing_user``, ``unknown_api_key`` …), never a 500.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import parse_qsl

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from engine.deps import Deps
from engine.services.accounts import ensure_user
from engine.storage.models import User
from engine.storage.repos import users as user_repo

logger = logging.getLogger(__name__)

Role = Literal["anonymous", "user", "admin"]
WEBAPP_DATA_KEY: Final = b"WebAppData"
FUTURE_SKEW_S: Final = 60
API_KEY_PREFIX: Final = "solai_"
ROLE_RANK: Final = {"anonymous": 0, "user": 1, "admin": 2}


class AuthError(Exception):
    """Credentials were sent but are not valid: ``code`` names the problem; a 401."""

    status = 401

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class InitData:
    """The validated fields of Mini App initData that we use."""

    telegram_id: int
    username: str | None
    first_name: str | None
    language_code: str | None
    auth_date: int
    query_id: str | None
    start_param: str | None


def parse_init_data(init_data: str) -> dict[str, str]:
    """The fields of an initData query string; AuthError when it is not a strict query string."""
    if not init_data or len(init_data) > 4096:
        raise AuthError("malformed_init_data", "initData is empty or too long")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise AuthError("malformed_init_data", "initData is not a query string") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise AuthError("malformed_init_data", f"initData repeats the field {key!r}")
        fields[key] = value
    return fields


def _user_from(fields: dict[str, str], auth_date: int) -> InitData:
    raw = fields.get("user")
    if raw is None:
        raise AuthError("missing_user", "initData has no user (open the Mini App from a chat)")
    try:
        user = json.loads(raw)
    except json.JSONDecodeError:
        raise AuthError("missing_user", "initData user is not JSON") from None
    uid = user.get("id") if isinstance(user, dict) else None
    # Some clients send ids as strings; a bool is never an id.
    if isinstance(uid, str) and uid.isdigit():
        uid = int(uid)
    if type(uid) is not int or uid <= 0:
        raise AuthError("missing_user", "initData user has no numeric id")
    assert isinstance(user, dict)

    def text(name: str, limit: int) -> str | None:
        value = user.get(name)
        return value[:limit] if isinstance(value, str) and value else None

    return InitData(
        telegram_id=uid,
        username=text("username", 64),
        first_name=text("first_name", 64),
        language_code=text("language_code", 16),
        auth_date=auth_date,
        query_id=fields.get("query_id"),
        start_param=fields.get("start_param"),
    )


def _auth_date(fields: dict[str, str], now_s: int, max_age_s: int | None) -> int:
    raw = fields.get("auth_date", "")
    if not (raw.isascii() and raw.isdigit()):
        raise AuthError("bad_auth_date", "initData auth_date is missing or not a number")
    auth_date = int(raw)
    if auth_date > now_s + FUTURE_SKEW_S:
        raise AuthError("bad_auth_date", "initData auth_date is in the future")
    if max_age_s is not None and now_s - auth_date > max_age_s:
        raise AuthError(
            "expired_init_data",
            f"initData expired: signed {now_s - auth_date}s ago, the limit is {max_age_s}s; "
            "reopen the Mini App",
        )
    return auth_date


def init_data_secret(bot_token: str) -> bytes:
    """The Mini App secret key: HMAC-SHA256 with key ``"WebAppData"`` over the bot token."""
    return hmac.new(WEBAPP_DATA_KEY, bot_token.encode(), hashlib.sha256).digest()


def check_init_data(
    init_data: str, *, bot_token: str, now_s: int, max_age_s: int | None
) -> InitData:
    """Validate Mini App initData by its HMAC ``hash`` and age (``max_age_s`` None: no expiry)."""
    fields = parse_init_data(init_data)
    received = fields.pop("hash", None)
    if received is None:
        raise AuthError("missing_hash", "initData has no hash")
    if len(received) != 64 or not received.isascii():
        raise AuthError("bad_hash", "initData hash is not 64 hex characters")
    check_string = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    expected = hmac.new(init_data_secret(bot_token), check_string.encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), received.lower()):
        raise AuthError("bad_hash", "initData hash does not match: not signed for this bot")
    return _user_from(fields, _auth_date(fields, now_s, max_age_s))


def check_init_data_third_party(
    init_data: str,
    *,
    bot_id: int,
    public_key_hex: str,
    now_s: int,
    max_age_s: int | None,
) -> InitData:
    """Validate initData without the bot token: Telegram's Ed25519 ``signature`` (base64url)."""
    fields = parse_init_data(init_data)
    signature = fields.pop("signature", None)
    fields.pop("hash", None)
    if signature is None:
        raise AuthError("missing_signature", "initData has no signature")
    try:
        sig = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except ValueError:
        raise AuthError("bad_signature", "initData signature is not base64url") from None
    check_string = f"{bot_id}:WebAppData\n" + "\n".join(
        f"{k}={v}" for k, v in sorted(fields.items())
    )
    try:
        VerifyKey(bytes.fromhex(public_key_hex)).verify(check_string.encode(), sig)
    except (BadSignatureError, ValueError):
        raise AuthError("bad_signature", "initData signature does not verify") from None
    return _user_from(fields, _auth_date(fields, now_s, max_age_s))


# -- API keys ----------------------------------------------------------------------------------


def new_api_key() -> str:
    """A fresh API key (shown to its owner once)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The stored form of a key: SHA-256 hex (keys are 256-bit random, so no salt is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


# -- principals --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a user (or none), their role, and the key their rate limit is counted on."""

    user: User | None
    role: Role
    via: Literal["tma", "api_key", "anonymous"]
    rate_key: str | None

    def at_least(self, role: Role) -> bool:
        """True when the caller's role is ``role`` or higher."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


ANONYMOUS: Final = Principal(None, "anonymous", "anonymous", None)


def credentials(headers: Any) -> tuple[str, str] | None:
    """("tma", initData) or ("key", api key) from the request headers, or None."""
    header = headers.get("authorization")
    if header:
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        scheme = scheme.lower()
        if scheme == "tma" and value:
            return "tma", value
        if scheme == "bearer" and value:
            return "key", value
        raise AuthError(
            "bad_authorization", "Authorization must be 'tma <initData>' or 'Bearer <api key>'"
        )
    key = headers.get("x-api-key")
    if key:
        return "key", key.strip()
    return None


def _role(deps: Deps, user: User) -> Role:
    if user.role == "admin" or (
        user.telegram_id is not None and user.telegram_id in deps.settings.admin_telegram_ids
    ):
        return "admin"
    return "user"


async def authenticate(deps: Deps, kind: str, value: str) -> Principal:
    """The principal behind credentials; AuthError (401) when they are not valid."""
    if kind == "tma":
        token = deps.settings.telegram_token
        if token is None:
            raise AuthError(
                "tma_not_configured", "Telegram sign-in is not configured (SOLAI_TELEGRAM_TOKEN)"
            )
        data = check_init_data(
            value,
            bot_token=token.get_secret_value(),
            now_s=deps.clock.now_ms() // 1000,
            max_age_s=deps.settings.telegram_init_data_max_age_s,
        )
        async with deps.sessions.begin() as session:
            user = await ensure_user(
                session,
                platform="telegram",
                external_id=data.telegram_id,
                now_ms=deps.clock.now_ms(),
                username=data.username,
                language_code=data.language_code,
            )
        return Principal(user, _role(deps, user), "tma", f"user:{user.id}")
    if not value.startswith(API_KEY_PREFIX) or len(value) > 128:
        raise AuthError("unknown_api_key", "API key is not valid")
    async with deps.sessions() as session:
        found = await user_repo.user_by_api_key_hash(session, key_hash=hash_api_key(value))
    if found is None:
        raise AuthError("unknown_api_key", "API key is not valid (revoked or never issued)")
    return Principal(found, _role(deps, found), "api_key", f"user:{found.id}")


# -- rate limits -------------------------------------------------------------------------------


class RateLimiter:
    """Token buckets by key (``rate`` per second, ``burst`` deep), least recently used evicted.

    In-process: with several API processes each has its own buckets, so the effective limit is
    per process; the edge proxy should hold the global one.
    """

    def __init__(self, rate: float, burst: int, *, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float | None:
        """Take one token; None when allowed, else the seconds to wait before retrying."""
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = None
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait
