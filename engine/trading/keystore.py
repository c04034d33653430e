"""The server signer's keystore: one Solana key per file, AES-256-GCM under an Argon2id key.

File format (version 1), two lines of ASCII::

    {"check":…,"cipher":{"name":"aes-256-gcm","nonce":…},"created_ts":…,"format":"solai-keystore",
     "kdf":{"iterations":2,"lanes":1,"memory_kib":19456,"name":"argon2id","salt":…},
     "pubkey":…,"version":1}
    <base64 of the AES-GCM ciphertext of the 32-byte ed25519 seed, with its 16-byte tag>

The first line (compact JSON, sorted keys) is the header; its exact bytes are the AES-GCM
associated data, so changing any header field (salt, parameters, public key) fails decryption.
``check`` is the first 16 bytes of HMAC-SHA256(derived key, "solai-keystore-check-v1"): it tells
a wrong passphrase apart from a tampered ciphertext without weakening anything (the ciphertext
already lets an attacker test guesses offline; Argon2id is what makes each guess expensive).

The file is mode 0600 and owned by the process's user; a looser mode is refused before anything
is read. Argon2id parameters are at least OWASP's (19 MiB, 2 passes, 1 lane) unless the caller
explicitly allows weak ones (tests); absurd parameters in a header are refused, so a crafted file
cannot make the server allocate gigabytes. Secrets are held in ``bytearray``s and zeroed after
use; what Python or a library copies into immutable ``bytes`` (a ``str`` passphrase, the key
inside AESGCM, solders' Keypair) cannot be zeroed, which the threat model in docs/trading.md
accepts.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

logger = logging.getLogger(__name__)

FORMAT: Final = "solai-keystore"
VERSION: Final = 1
SEED_LEN: Final = 32
KEY_LEN: Final = 32
NONCE_LEN: Final = 12
SALT_LEN: Final = 16
TAG_LEN: Final = 16
CHECK_LEN: Final = 16
_CHECK_INFO: Final = b"solai-keystore-check-v1"
# Caps on what a header may ask for: beyond these a file is refused, not honoured.
MAX_MEMORY_KIB: Final = 1 << 20
MAX_ITERATIONS: Final = 64
MAX_LANES: Final = 16
MAX_FILE_BYTES: Final = 4096

Passphrase = str | bytes | bytearray


class KeystoreError(Exception):
    """Base of the keystore errors; none of them carries secret material."""


class KeystoreNotFound(KeystoreError, FileNotFoundError):
    """There is no keystore at that path."""


class KeystoreExists(KeystoreError, FileExistsError):
    """Refusing to overwrite an existing keystore."""


class KeystorePermissionError(KeystoreError, PermissionError):
    """The file's mode or owner lets someone else read or change it."""


class KeystoreFormatError(KeystoreError, ValueError):
    """The file is truncated, malformed, of an unknown version, or asks for bad parameters."""


class WrongPassphrase(KeystoreError):
    """The passphrase does not open this keystore."""


class KeystoreTampered(KeystoreError):
    """The passphrase is right but the ciphertext or header was changed."""


class PassphraseRefused(KeystoreError):
    """The passphrase came from the environment, which is never allowed."""


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost: memory in KiB, passes, lanes."""

    memory_kib: int = 19_456
    iterations: int = 2
    lanes: int = 1

    def check(self, *, allow_weak: bool = False) -> None:
        """Refuse parameters below OWASP's (unless ``allow_weak``) or above the caps."""
        if not (
            8 * self.lanes <= self.memory_kib <= MAX_MEMORY_KIB
            and 1 <= self.iterations <= MAX_ITERATIONS
            and 1 <= self.lanes <= MAX_LANES
        ):
            raise KeystoreFormatError(f"Argon2id parameters out of range: {self}")
        if not allow_weak and (
            self.memory_kib < OWASP.memory_kib or self.iterations < OWASP.iterations
        ):
            raise KeystoreFormatError(
                f"Argon2id parameters {self} are weaker than the minimum "
                f"(m={OWASP.memory_kib} KiB, t={OWASP.iterations}, p={OWASP.lanes})"
            )


OWASP: Final = KdfParams()
"""OWASP's minimum recommendation for Argon2id (m=19 MiB, t=2, p=1)."""


class SecretBytes:
    """A secret in a bytearray: never shown, never pickled, zeroed by ``wipe`` or on exit."""

    __slots__ = ("_buf",)

    def __init__(self, buf: bytearray) -> None:
        self._buf = buf

    def __repr__(self) -> str:
        return f"<SecretBytes len={len(self._buf)} (hidden)>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("secrets cannot be pickled")

    def __len__(self) -> int:
        return len(self._buf)

    @property
    def view(self) -> bytearray:
        """The bytes themselves (do not keep references)."""
        return self._buf

    def wipe(self) -> None:
        """Overwrite with zeros."""
        _zero(self._buf)

    def __enter__(self) -> SecretBytes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()


def _zero(buf: bytearray) -> None:
    for i in range(len(buf)):
        buf[i] = 0


def refuse_environment_passphrase(passphrase: Passphrase) -> None:
    """Refuse a passphrase that equals an environment variable's value (never from the env)."""
    given = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
    for name, value in os.environ.items():
        if value and hmac.compare_digest(value.encode(errors="surrogateescape"), given):
            raise PassphraseRefused(
                f"the passphrase equals environment variable {name}: a keystore is unlocked with "
                "a passphrase typed for this session, never one read from the environment"
            )


def _passphrase_bytes(passphrase: Passphrase) -> bytearray:
    if isinstance(passphrase, str):
        if not passphrase:
            raise WrongPassphrase("the passphrase is empty")
        return bytearray(passphrase.encode())
    if not passphrase:
        raise WrongPassphrase("the passphrase is empty")
    return bytearray(passphrase)


def _derive(passphrase: bytearray, salt: bytes, kdf: KdfParams) -> bytearray:
    key = bytearray(KEY_LEN)
    Argon2id(
        salt=salt,
        length=KEY_LEN,
        iterations=kdf.iterations,
        lanes=kdf.lanes,
        memory_cost=kdf.memory_kib,
    ).derive_into(passphrase, key)  # type: ignore[arg-type]  # accepts any buffer
    return key


def _check_value(key: bytearray) -> bytes:
    return hmac.new(bytes(key), _CHECK_INFO, hashlib.sha256).digest()[:CHECK_LEN]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: Any, what: str, length: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise KeystoreFormatError(f"keystore field {what} is missing or not a string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeystoreFormatError(f"keystore field {what} is not base64") from None
    if length is not None and len(raw) != length:
        raise KeystoreFormatError(f"keystore field {what} has {len(raw)} bytes, not {length}")
    return raw


@dataclass(frozen=True, slots=True)
class KeystoreHeader:
    """The authenticated, unencrypted part of a keystore."""

    pubkey: str
    kdf: KdfParams
    salt: bytes
    nonce: bytes
    check: bytes
    created_ts: int
    raw: bytes
    """The header line exactly as stored: the AES-GCM associated data."""


def _encode_header(
    *, pubkey: str, kdf: KdfParams, salt: bytes, nonce: bytes, check: bytes, created_ts: int
) -> bytes:
    header = {
        "format": FORMAT,
        "version": VERSION,
        "pubkey": pubkey,
        "created_ts": created_ts,
        "check": _b64(check),
        "kdf": {
            "name": "argon2id",
            "memory_kib": kdf.memory_kib,
            "iterations": kdf.iterations,
            "lanes": kdf.lanes,
            "salt": _b64(salt),
        },
        "cipher": {"name": "aes-256-gcm", "nonce": _b64(nonce)},
    }
    return orjson.dumps(header, option=orjson.OPT_SORT_KEYS)


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if type(value) is not int:
        raise KeystoreFormatError(f"keystore field {name} is missing or not an integer")
    return value


def parse_keystore(blob: bytes, *, allow_weak_kdf: bool = False) -> tuple[KeystoreHeader, bytes]:
    """Split and validate a keystore file's bytes: (header, ciphertext)."""
    lines = blob.split(b"\n")
    if len(lines) != 3 or lines[2] != b"" or not lines[0] or not lines[1]:
        raise KeystoreFormatError("keystore is truncated or malformed: expected two lines")
    raw_header, raw_ct = lines[0], lines[1]
    try:
        data = orjson.loads(raw_header)
    except orjson.JSONDecodeError:
        raise KeystoreFormatError("keystore header is not valid JSON (truncated?)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise KeystoreFormatError(f"not a {FORMAT} file")
    if data.get("version") != VERSION:
        raise KeystoreFormatError(f"unsupported keystore version {data.get('version')!r}")
    kdf_raw, cipher = data.get("kdf"), data.get("cipher")
    if not isinstance(kdf_raw, dict) or kdf_raw.get("name") != "argon2id":
        raise KeystoreFormatError("keystore kdf must be argon2id")
    if not isinstance(cipher, dict) or cipher.get("name") != "aes-256-gcm":
        raise KeystoreFormatError("keystore cipher must be aes-256-gcm")
    kdf = KdfParams(
        _int(kdf_raw, "memory_kib"), _int(kdf_raw, "iterations"), _int(kdf_raw, "lanes")
    )
    kdf.check(allow_weak=allow_weak_kdf)
    pubkey = data.get("pubkey")
    if not isinstance(pubkey, str) or not 32 <= len(pubkey) <= 44:
        raise KeystoreFormatError("keystore field pubkey is missing or malformed")
    header = KeystoreHeader(
        pubkey=pubkey,
        kdf=kdf,
        salt=_unb64(kdf_raw.get("salt"), "kdf.salt", SALT_LEN),
        nonce=_unb64(cipher.get("nonce"), "cipher.nonce", NONCE_LEN),
        check=_unb64(data.get("check"), "check", CHECK_LEN),
        created_ts=_int(data, "created_ts"),
        raw=raw_header,
    )
    ciphertext = _unb64(raw_ct.decode("ascii", errors="replace"), "ciphertext")
    if len(ciphertext) != SEED_LEN + TAG_LEN:
        raise KeystoreFormatError(
            f"keystore ciphertext has {len(ciphertext)} bytes, "
            f"not {SEED_LEN + TAG_LEN} (truncated?)"
        )
    return header, ciphertext


def encrypt_seed(
    seed: bytearray, passphrase: Passphrase, *, pubkey: str, created_ts: int, kdf: KdfParams
) -> bytes:
    """A keystore file's bytes for ``seed`` under ``passphrase`` (fresh salt and nonce)."""
    if len(seed) != SEED_LEN:
        raise ValueError(f"an ed25519 seed is {SEED_LEN} bytes")
    salt, nonce = secrets.token_bytes(SALT_LEN), secrets.token_bytes(NONCE_LEN)
    pw = _passphrase_bytes(passphrase)
    key = _derive(pw, salt, kdf)
    try:
        header = _encode_header(
            pubkey=pubkey,
            kdf=kdf,
            salt=salt,
            nonce=nonce,
            check=_check_value(key),
            created_ts=created_ts,
        )
        ciphertext = AESGCM(key).encrypt(nonce, seed, header)
    finally:
        _zero(key)
        _zero(pw)
    return header + b"\n" + _b64(ciphertext).encode() + b"\n"


def decrypt_seed(header: KeystoreHeader, ciphertext: bytes, passphrase: Passphrase) -> SecretBytes:
    """The seed inside a parsed keystore; WrongPassphrase or KeystoreTampered otherwise."""
    pw = _passphrase_bytes(passphrase)
    key = _derive(pw, header.salt, header.kdf)
    _zero(pw)
    seed = bytearray(SEED_LEN)
    try:
        if not hmac.compare_digest(_check_value(key), header.check):
            raise WrongPassphrase("wrong passphrase for this keystore")
        try:
            AESGCM(key).decrypt_into(header.nonce, ciphertext, header.raw, seed)
        except InvalidTag:
            _zero(seed)
            raise KeystoreTampered(
                "the keystore was modified: its ciphertext or header fails authentication"
            ) from None
    finally:
        _zero(key)
    return SecretBytes(seed)


class Keystore:
    """One key in one file; reading checks the file's mode before anything else."""

    __slots__ = ("_allow_weak", "path")

    def __init__(self, path: Path, *, allow_weak_kdf: bool = False) -> None:
        self.path = Path(path)
        self._allow_weak = allow_weak_kdf

    def __repr__(self) -> str:
        return f"Keystore({str(self.path)!r})"

    def _read(self) -> bytes:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags)
        except FileNotFoundError:
            raise KeystoreNotFound(f"no keystore at {self.path}") from None
        except OSError as exc:
            raise KeystoreError(f"cannot open keystore {self.path}: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            mode = stat.S_IMODE(st.st_mode)
            if not stat.S_ISREG(st.st_mode):
                raise KeystorePermissionError(f"keystore {self.path} is not a regular file")
            if mode & 0o077:
                raise KeystorePermissionError(
                    f"keystore {self.path} has mode {mode:04o}; it must be 0600 "
                    f"(run: chmod 600 {self.path})"
                )
            if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
                raise KeystorePermissionError(
                    f"keystore {self.path} belongs to another user (uid {st.st_uid})"
                )
            if st.st_size > MAX_FILE_BYTES:
                raise KeystoreFormatError(f"keystore {self.path} is too large to be a keystore")
            with os.fdopen(os.dup(fd), "rb") as fh:
                return fh.read(MAX_FILE_BYTES + 1)
        finally:
            os.close(fd)

    def header(self) -> KeystoreHeader:
        """The authenticated-but-unencrypted header (public key, parameters)."""
        return parse_keystore(self._read(), allow_weak_kdf=self._allow_weak)[0]

    def decrypt(self, passphrase: Passphrase) -> SecretBytes:
        """The seed; the caller wipes it. Refuses a passphrase taken from the environment."""
        refuse_environment_passphrase(passphrase)
        header, ciphertext = parse_keystore(self._read(), allow_weak_kdf=self._allow_weak)
        return decrypt_seed(header, ciphertext, passphrase)

    @classmethod
    def create(
        cls,
        path: Path,
        seed: bytearray,
        passphrase: Passphrase,
        *,
        pubkey: str,
        created_ts: int,
        kdf: KdfParams = OWASP,
        allow_weak_kdf: bool = False,
    ) -> Keystore:
        """Write a new keystore (mode 0600); refuses to overwrite an existing file."""
        refuse_environment_passphrase(passphrase)
        kdf.check(allow_weak=allow_weak_kdf)
        blob = encrypt_seed(seed, passphrase, pubkey=pubkey, created_ts=created_ts, kdf=kdf)
        path = Path(path)
        if path.exists():
            raise KeystoreExists(f"a keystore already exists at {path}")
        _write_new(path, blob, replace=False)
        logger.info("keystore created at %s for %s", path, pubkey)
        return cls(path, allow_weak_kdf=allow_weak_kdf)

    def export(
        self,
        passphrase: Passphrase,
        *,
        new_passphrase: Passphrase | None = None,
        kdf: KdfParams | None = None,
        now_ms: int,
    ) -> bytes:
        """The key re-encrypted (fresh salt and nonce) under ``new_passphrase`` or the same one."""
        target = passphrase if new_passphrase is None else new_passphrase
        refuse_environment_passphrase(target)
        header = self.header()
        params = kdf or header.kdf
        params.check(allow_weak=self._allow_weak)
        with self.decrypt(passphrase) as seed:
            return encrypt_seed(
                seed.view, target, pubkey=header.pubkey, created_ts=now_ms, kdf=params
            )

    def change_passphrase(
        self, passphrase: Passphrase, new_passphrase: Passphrase, *, now_ms: int
    ) -> None:
        """Re-encrypt in place, atomically (the old file stays whole until the new one is)."""
        blob = self.export(passphrase, new_passphrase=new_passphrase, now_ms=now_ms)
        _write_new(self.path, blob, replace=True)

    def delete(self) -> None:
        """Overwrite the file with zeros, then remove it (best effort on SSDs and snapshots)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise KeystoreNotFound(f"no keystore at {self.path}") from None
        try:
            size = os.fstat(fd).st_size
            os.write(fd, b"\0" * size)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.path.unlink()
        logger.info("keystore %s deleted", self.path)


def _write_new(path: Path, blob: bytes, *, replace: bool) -> None:
    """Write ``blob`` to a 0600 temp file beside ``path``, fsync, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask cannot loosen it
        os.write(fd, blob)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            tmp.replace(path)
        else:
            # link() fails when the target exists, so two creators cannot overwrite each other.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise KeystoreExists(f"a keystore already exists at {path}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
