"""The opt-in server signer: a keystore unlocked for one session, locked again when idle.

For users who want unattended execution only. The seed lives in a ``bytearray`` while unlocked
and is zeroed on ``lock`` (explicit, on idle after ``idle_timeout_ms`` - 5 minutes by default -
and on ``delete``). Nothing about the key appears in ``repr``, ``str``, logs or pickles. A
transaction is signed only with an :class:`~engine.trading.policy.Approval` from an ``execute``
policy decision for this user, unexpired and not used before, and only when this key is its
sole required signer (the fee payer), so the signer cannot be talked into co-signing something
else.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from engine.clock import Clock
from engine.trading.keystore import (
    OWASP,
    KdfParams,
    Keystore,
    Passphrase,
    SecretBytes,
    refuse_environment_passphrase,
)
from engine.trading.policy import Approval

logger = logging.getLogger(__name__)

IDLE_TIMEOUT_MS: Final = 5 * 60_000


class SignerLocked(Exception):
    """The signer is locked (never unlocked, locked by hand, or idle too long)."""


class SigningRefused(Exception):
    """The policy or the transaction does not allow this signature."""


class ServerSigner:
    """One user's key, unlocked per session with a passphrase; auto-locks when idle."""

    __slots__ = (
        "_clock",
        "_idle_ms",
        "_keystore",
        "_last_used",
        "_pubkey",
        "_seed",
        "_used",
        "user_id",
    )

    def __init__(
        self,
        keystore: Keystore,
        *,
        user_id: int,
        clock: Clock,
        idle_timeout_ms: int = IDLE_TIMEOUT_MS,
    ) -> None:
        if idle_timeout_ms <= 0:
            raise ValueError("idle_timeout_ms must be positive")
        self._keystore = keystore
        self.user_id = user_id
        self._clock = clock
        self._idle_ms = idle_timeout_ms
        self._pubkey = keystore.header().pubkey
        self._seed: SecretBytes | None = None
        self._last_used = 0
        self._used: set[str] = set()

    def __repr__(self) -> str:
        state = "locked" if self._seed is None else "unlocked"
        return f"ServerSigner(user_id={self.user_id}, pubkey={self._pubkey}, {state})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a signer cannot be pickled or copied")

    def __copy__(self) -> ServerSigner:
        raise TypeError("a signer cannot be pickled or copied")

    def __deepcopy__(self, memo: dict[int, Any]) -> ServerSigner:
        raise TypeError("a signer cannot be pickled or copied")

    @classmethod
    def create(
        cls,
        path: Path,
        passphrase: Passphrase,
        *,
        user_id: int,
        clock: Clock,
        kdf: KdfParams = OWASP,
        allow_weak_kdf: bool = False,
        idle_timeout_ms: int = IDLE_TIMEOUT_MS,
    ) -> ServerSigner:
        """Generate a new key into a new keystore; returns the (locked) signer."""
        kp = Keypair()
        seed = bytearray(kp.secret())
        try:
            keystore = Keystore.create(
                path,
                seed,
                passphrase,
                pubkey=str(kp.pubkey()),
                created_ts=clock.now_ms(),
                kdf=kdf,
                allow_weak_kdf=allow_weak_kdf,
            )
        finally:
            SecretBytes(seed).wipe()
        return cls(keystore, user_id=user_id, clock=clock, idle_timeout_ms=idle_timeout_ms)

    @property
    def pubkey(self) -> str:
        """The wallet address (public)."""
        return self._pubkey

    @property
    def locked(self) -> bool:
        """True when locked; an idle signer locks itself on this check."""
        self.check_idle()
        return self._seed is None

    def unlock(self, passphrase: Passphrase) -> None:
        """Open the keystore for this session (a passphrase from the environment is refused)."""
        refuse_environment_passphrase(passphrase)
        seed = self._keystore.decrypt(passphrase)
        try:
            derived = str(Keypair.from_seed(bytes(seed.view)).pubkey())
        except Exception:
            seed.wipe()
            raise
        if derived != self._pubkey:
            seed.wipe()
            raise SigningRefused("the keystore's key does not match its public key")
        self.lock()
        self._seed = seed
        self._last_used = self._clock.now_ms()
        logger.info("signer of user %s unlocked (%s)", self.user_id, self._pubkey)

    def lock(self) -> None:
        """Zero the key and forget it."""
        if self._seed is not None:
            self._seed.wipe()
            self._seed = None
            logger.info("signer of user %s locked", self.user_id)

    def check_idle(self) -> bool:
        """Lock when idle past the timeout; True when locked afterwards."""
        if self._seed is not None and self._clock.now_ms() - self._last_used >= self._idle_ms:
            logger.info("signer of user %s idle; locking", self.user_id)
            self.lock()
        return self._seed is None

    def sign(self, tx: VersionedTransaction, approval: Approval) -> VersionedTransaction:
        """Sign ``tx`` as its fee payer, only under a valid, unused approval for this user."""
        if self.check_idle():
            raise SignerLocked("the signer is locked; unlock it with your passphrase")
        now = self._clock.now_ms()
        if approval.user_id != self.user_id:
            raise SigningRefused("the approval is for another user")
        if now > approval.expires_ts:
            raise SigningRefused("the approval has expired")
        if approval.idempotency_key in self._used:
            raise SigningRefused("this approval was already used")
        message = tx.message
        keys = [str(k) for k in message.account_keys]
        if message.header.num_required_signatures != 1 or not keys or keys[0] != self._pubkey:
            raise SigningRefused("the transaction must be paid and signed by this wallet alone")
        assert self._seed is not None
        keypair = Keypair.from_seed(bytes(self._seed.view))
        signed = VersionedTransaction(message, [keypair])
        del keypair
        self._used.add(approval.idempotency_key)
        self._last_used = now
        logger.info(
            "signed %s for user %s (%s)", approval.idempotency_key, self.user_id, self._pubkey
        )
        return signed

    def export(self, passphrase: Passphrase, *, new_passphrase: Passphrase | None = None) -> bytes:
        """The key as an encrypted keystore file (under ``new_passphrase`` when given)."""
        return self._keystore.export(
            passphrase, new_passphrase=new_passphrase, now_ms=self._clock.now_ms()
        )

    def delete(self) -> None:
        """Lock and delete the keystore file, on the user's request."""
        self.lock()
        self._keystore.delete()


class SignerVault:
    """The unlocked signers of this process, by user."""

    def __init__(self) -> None:
        self._signers: dict[int, ServerSigner] = {}

    def __repr__(self) -> str:
        return f"SignerVault({len(self._signers)} signers)"

    def add(self, signer: ServerSigner) -> None:
        """Keep a signer for its user (replacing and locking a previous one)."""
        old = self._signers.get(signer.user_id)
        if old is not None and old is not signer:
            old.lock()
        self._signers[signer.user_id] = signer

    def get(self, user_id: int) -> ServerSigner | None:
        """The user's signer if it is unlocked now."""
        signer = self._signers.get(user_id)
        return None if signer is None or signer.locked else signer

    def lock_idle(self) -> int:
        """Lock every idle signer; returns how many are locked."""
        return sum(1 for s in self._signers.values() if s.check_idle())

    def lock_all(self) -> None:
        """Lock every signer (shutdown)."""
        for s in self._signers.values():
            s.lock()
