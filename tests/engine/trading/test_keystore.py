"""The keystore: wrong passphrase, tampered ciphertext or header, truncated file, wrong file mode
are each a clear error; nothing is decrypted and the file is left exactly as it was."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from solders.keypair import Keypair

from engine.trading.keystore import (
    OWASP,
    KdfParams,
    Keystore,
    KeystoreExists,
    KeystoreFormatError,
    KeystoreNotFound,
    KeystorePermissionError,
    KeystoreTampered,
    PassphraseRefused,
    WrongPassphrase,
)

FAST = KdfParams(memory_kib=64, iterations=1, lanes=1)  # tests only; files refuse it otherwise
PASS = "correct horse battery staple"


def _make(tmp_path: Path, *, kdf: KdfParams = FAST) -> tuple[Keystore, Keypair]:
    kp = Keypair()
    ks = Keystore.create(
        tmp_path / "user-1.key",
        bytearray(kp.secret()),
        PASS,
        pubkey=str(kp.pubkey()),
        created_ts=1,
        kdf=kdf,
        allow_weak_kdf=kdf != OWASP,
    )
    return ks, kp


def _snapshot(path: Path) -> tuple[bytes, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_mtime_ns, st.st_mode


def test_round_trip_with_owasp_parameters_and_a_0600_file(tmp_path: Path) -> None:
    ks, kp = _make(tmp_path, kdf=OWASP)
    assert oct(ks.path.stat().st_mode & 0o777) == "0o600"
    header = ks.header()
    assert header.kdf == KdfParams(memory_kib=19_456, iterations=2, lanes=1)
    assert header.pubkey == str(kp.pubkey())
    raw = orjson.loads(ks.path.read_bytes().split(b"\n")[0])
    assert raw["kdf"]["name"] == "argon2id" and raw["cipher"]["name"] == "aes-256-gcm"
    assert kp.secret().hex() not in ks.path.read_text()
    with ks.decrypt(PASS) as seed:
        assert bytes(seed.view) == kp.secret()
        buf = seed.view
    assert buf == bytearray(32)  # wiped on leaving the block


def test_wrong_passphrase_is_named_and_changes_nothing(tmp_path: Path) -> None:
    ks, _ = _make(tmp_path)
    before = _snapshot(ks.path)
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        ks.decrypt("correct horse battery stapler")
    with pytest.raises(WrongPassphrase, match="empty"):
        ks.decrypt("")
    assert _snapshot(ks.path) == before


def _flip_ciphertext(blob: bytes) -> bytes:
    header, ct, _ = blob.split(b"\n")
    raw = bytearray(base64.b64decode(ct))
    raw[5] ^= 0x01
    return header + b"\n" + base64.b64encode(bytes(raw)) + b"\n"


def _change_header(blob: bytes) -> bytes:
    header, ct, _ = blob.split(b"\n")
    data = orjson.loads(header)
    data["pubkey"] = str(Keypair().pubkey())  # pretend the key is someone else's
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS) + b"\n" + ct + b"\n"


def _truncate(blob: bytes) -> bytes:
    return blob[: len(blob) - 20]


def _drop_line(blob: bytes) -> bytes:
    return blob.split(b"\n")[0] + b"\n"


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (_flip_ciphertext, KeystoreTampered, "fails authentication"),
        (_change_header, KeystoreTampered, "fails authentication"),
        (_truncate, KeystoreFormatError, "truncated"),
        (_drop_line, KeystoreFormatError, "truncated or malformed"),
        (lambda b: b"", KeystoreFormatError, "truncated or malformed"),
        (lambda b: b[:30] + b"\n" + b.split(b"\n")[1] + b"\n", KeystoreFormatError, "JSON"),
    ],
)
def test_damaged_files_are_refused_clearly_and_left_untouched(
    tmp_path: Path,
    mutate: Callable[[bytes], bytes],
    error: type[Exception],
    message: str,
) -> None:
    ks, _ = _make(tmp_path)
    ks.path.write_bytes(mutate(ks.path.read_bytes()))
    before = _snapshot(ks.path)
    with pytest.raises(error, match=message):
        ks.decrypt(PASS)
    assert _snapshot(ks.path) == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_file_others_can_read_or_write_is_refused_before_reading(
    tmp_path: Path, mode: int
) -> None:
    ks, _ = _make(tmp_path)
    ks.path.chmod(mode)
    before = _snapshot(ks.path)
    with pytest.raises(KeystorePermissionError, match=f"mode {mode:04o}; it must be 0600"):
        ks.decrypt(PASS)
    with pytest.raises(KeystorePermissionError):
        ks.header()
    assert _snapshot(ks.path) == before


def test_weak_or_absurd_parameters_in_a_file_are_refused(tmp_path: Path) -> None:
    ks, _ = _make(tmp_path)  # written with the fast test parameters
    strict = Keystore(ks.path)
    with pytest.raises(KeystoreFormatError, match="weaker than the minimum"):
        strict.decrypt(PASS)
    blob = ks.path.read_bytes()
    header, ct, _ = blob.split(b"\n")
    data = orjson.loads(header)
    data["kdf"]["memory_kib"] = 1 << 30  # a crafted file asking for a terabyte
    ks.path.write_bytes(orjson.dumps(data, option=orjson.OPT_SORT_KEYS) + b"\n" + ct + b"\n")
    with pytest.raises(KeystoreFormatError, match="out of range"):
        ks.decrypt(PASS)


def test_create_refuses_to_overwrite_and_env_passphrases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ks, _ = _make(tmp_path)
    before = _snapshot(ks.path)
    with pytest.raises(KeystoreExists):
        _make(tmp_path)
    assert _snapshot(ks.path) == before
    monkeypatch.setenv("SOLAI_SIGNER_PASSPHRASE", PASS)
    with pytest.raises(PassphraseRefused, match="environment variable SOLAI_SIGNER_PASSPHRASE"):
        ks.decrypt(PASS)
    with pytest.raises(PassphraseRefused) as info:
        _make(tmp_path / "other")
    assert PASS not in str(info.value)


def test_export_re_encrypts_and_change_passphrase_is_atomic(tmp_path: Path) -> None:
    ks, kp = _make(tmp_path)
    exported = ks.export(PASS, new_passphrase="new pass", now_ms=2)
    assert exported != ks.path.read_bytes() and kp.secret().hex().encode() not in exported
    copy = tmp_path / "copy.key"
    copy.write_bytes(exported)
    copy.chmod(0o600)
    with Keystore(copy, allow_weak_kdf=True).decrypt("new pass") as seed:
        assert bytes(seed.view) == kp.secret()
    with pytest.raises(WrongPassphrase):
        ks.change_passphrase("nope", "x", now_ms=3)
    with ks.decrypt(PASS) as seed:  # a failed change left the old file whole
        assert bytes(seed.view) == kp.secret()
    ks.change_passphrase(PASS, "second", now_ms=3)
    assert oct(ks.path.stat().st_mode & 0o777) == "0o600"
    with ks.decrypt("second") as seed:
        assert bytes(seed.view) == kp.secret()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_delete_removes_the_file(tmp_path: Path) -> None:
    ks, _ = _make(tmp_path)
    ks.delete()
    assert not ks.path.exists()
    with pytest.raises(KeystoreNotFound):
        ks.decrypt(PASS)
    with pytest.raises(KeystoreNotFound):
        ks.delete()


def test_a_symlink_is_not_followed(tmp_path: Path) -> None:
    ks, _ = _make(tmp_path)
    link = tmp_path / "link.key"
    os.symlink(ks.path, link)
    with pytest.raises(Exception, match="cannot open keystore"):
        Keystore(link, allow_weak_kdf=True).decrypt(PASS)
