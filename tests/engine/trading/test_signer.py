"""The server signer: unlocked per session, locked when idle, signs only under the policy's
approval and only as the sole fee payer, and never shows its key."""

from __future__ import annotations

import copy
import logging
import pickle
from pathlib import Path

import base58
import pytest
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from engine.clock import FixedClock
from engine.trading.keystore import KdfParams, Keystore, PassphraseRefused, WrongPassphrase
from engine.trading.policy import Approval
from engine.trading.signer import (
    ServerSigner,
    SignerLocked,
    SignerVault,
    SigningRefused,
)

FAST = KdfParams(memory_kib=64, iterations=1, lanes=1)
PASS = "open sesame, for this session only"


def unsigned_transfer(payer: str, *, co_signer: Pubkey | None = None) -> VersionedTransaction:
    """An unsigned v0 transfer paid by ``payer`` (optionally needing a second signer)."""
    ix = transfer(
        TransferParams(
            from_pubkey=Pubkey.from_string(payer), to_pubkey=Pubkey.new_unique(), lamports=1
        )
    )
    if co_signer is not None:
        ix = Instruction(
            ix.program_id, ix.data, [*ix.accounts, AccountMeta(co_signer, True, False)]
        )
    msg = MessageV0.try_compile(Pubkey.from_string(payer), [ix], [], Hash.new_unique())
    return VersionedTransaction.populate(msg, [])


@pytest.fixture
def signer(tmp_path: Path, clock: FixedClock) -> ServerSigner:
    return ServerSigner.create(
        tmp_path / "u7.key", PASS, user_id=7, clock=clock, kdf=FAST, allow_weak_kdf=True
    )


def _approval(clock: FixedClock, key: str = "exit:1:1", user_id: int = 7) -> Approval:
    return Approval(user_id, "mint", 1, key, clock.now_ms() + 30_000)


def _secret_forms(signer: ServerSigner) -> list[str]:
    with signer._keystore.decrypt(PASS) as seed:
        raw = bytes(seed.view)
    full = bytes(Keypair.from_seed(raw))
    return [raw.hex(), base58.b58encode(raw).decode(), full.hex(), base58.b58encode(full).decode()]


def test_unlock_sign_and_verify(signer: ServerSigner, clock: FixedClock) -> None:
    assert signer.locked
    with pytest.raises(SignerLocked):
        signer.sign(unsigned_transfer(signer.pubkey), _approval(clock))
    signer.unlock(PASS)
    tx = unsigned_transfer(signer.pubkey)
    signed = signer.sign(tx, _approval(clock))
    assert signed.verify_with_results() == [True]
    assert signed.signatures[0].verify(
        Pubkey.from_string(signer.pubkey), to_bytes_versioned(tx.message)
    )


def test_auto_lock_after_five_idle_minutes_zeroes_the_key(
    signer: ServerSigner, clock: FixedClock
) -> None:
    signer.unlock(PASS)
    held = signer._seed
    assert held is not None
    clock.advance(4 * 60_000)
    signer.sign(unsigned_transfer(signer.pubkey), _approval(clock, "k1"))  # use resets the timer
    clock.advance(5 * 60_000 - 1)
    assert not signer.locked
    clock.advance(1)
    assert signer.locked and held.view == bytearray(32)
    with pytest.raises(SignerLocked, match="unlock it with your passphrase"):
        signer.sign(unsigned_transfer(signer.pubkey), _approval(clock, "k2"))


def test_signing_needs_a_valid_unused_approval_for_this_user(
    signer: ServerSigner, clock: FixedClock
) -> None:
    signer.unlock(PASS)
    tx = unsigned_transfer(signer.pubkey)
    with pytest.raises(SigningRefused, match="another user"):
        signer.sign(tx, _approval(clock, user_id=8))
    expired = Approval(7, "mint", 1, "k", clock.now_ms() - 1)
    with pytest.raises(SigningRefused, match="expired"):
        signer.sign(tx, expired)
    signer.sign(tx, _approval(clock, "once"))
    with pytest.raises(SigningRefused, match="already used"):
        signer.sign(tx, _approval(clock, "once"))


def test_it_signs_only_as_the_sole_fee_payer(signer: ServerSigner, clock: FixedClock) -> None:
    signer.unlock(PASS)
    other = str(Pubkey.new_unique())
    with pytest.raises(SigningRefused, match="paid and signed by this wallet alone"):
        signer.sign(unsigned_transfer(other), _approval(clock, "a"))
    two = unsigned_transfer(signer.pubkey, co_signer=Pubkey.new_unique())
    with pytest.raises(SigningRefused, match="alone"):
        signer.sign(two, _approval(clock, "b"))


def test_repr_str_logs_pickle_and_copy_show_no_key_material(
    signer: ServerSigner, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forms = _secret_forms(signer)
    signer.unlock(PASS)
    signer.sign(unsigned_transfer(signer.pubkey), _approval(clock))
    logging.getLogger("test").info("signer %s %r", signer, signer)
    shown = [repr(signer), str(signer), f"{signer}", repr(signer._seed), str(signer._seed)]
    shown += [caplog.text, repr(signer._keystore), repr(SignerVault())]
    for text in shown:
        for secret in forms:
            assert secret not in text
        assert PASS not in text
    assert "unlocked" in repr(signer) and signer.pubkey in repr(signer)
    assert "hidden" in repr(signer._seed)
    for leak in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="cannot be pickled"):
            leak(signer)  # type: ignore[operator]
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer._seed)
    assert not hasattr(signer, "__dict__")


def test_unlock_refuses_env_passphrases_and_wrong_ones(
    signer: ServerSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(WrongPassphrase):
        signer.unlock("not it")
    monkeypatch.setenv("SIGNER_PW", PASS)
    with pytest.raises(PassphraseRefused, match="SIGNER_PW"):
        signer.unlock(PASS)
    assert signer.locked


def test_export_and_delete_on_request(signer: ServerSigner, tmp_path: Path) -> None:
    signer.unlock(PASS)
    blob = signer.export(PASS, new_passphrase="export pass")
    path = tmp_path / "exported.key"
    path.write_bytes(blob)
    path.chmod(0o600)
    assert Keystore(path, allow_weak_kdf=True).header().pubkey == signer.pubkey
    signer.delete()
    assert signer.locked and not (tmp_path / "u7.key").exists()


def test_vault_hands_out_only_unlocked_signers(signer: ServerSigner, clock: FixedClock) -> None:
    vault = SignerVault()
    vault.add(signer)
    assert vault.get(7) is None
    signer.unlock(PASS)
    assert vault.get(7) is signer and vault.get(8) is None
    clock.advance(5 * 60_000)
    assert vault.lock_idle() == 1 and vault.get(7) is None
