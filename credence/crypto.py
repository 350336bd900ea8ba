"""Keys for subject identifiers: a keyed lookup hash and envelope encryption.

A 32-byte master key never touches the ledger. From it, HKDF derives a
lookup key (HMAC-SHA256 of ``scheme:id``, so a subject can be found without
storing its identifier) and a key-encryption key. Each subject's identifier
is sealed with AES-256-GCM under its own random data key, and that data key
is stored wrapped by the key-encryption key: destroying one subject's wrapped
key makes its identifier unrecoverable (crypto-shredding).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credence.errors import CryptoKeyError

KEY_BYTES = 32
_NONCE = 12
_ID_AAD = b"credence/subject-identifier/v1"
_KEY_AAD = b"credence/data-key/v1"


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(master)


class KeyRing:
    """Everything derived from one master key."""

    def __init__(self, master: bytes) -> None:
        if len(master) != KEY_BYTES:
            raise CryptoKeyError(f"the master key must be {KEY_BYTES} bytes, got {len(master)}")
        self._lookup_key = _derive(master, b"credence lookup v1")
        self._kek = AESGCM(_derive(master, b"credence key-encryption v1"))
        self.fingerprint = hashlib.sha256(_derive(master, b"credence fingerprint v1")).hexdigest()[
            :16
        ]

    def lookup(self, scheme: str, identifier: str) -> bytes:
        """The keyed hash a subject is found by; the identifier must be normalised."""
        message = f"{scheme}:{identifier}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).digest()

    def seal(self, identifier: str) -> tuple[bytes, bytes]:
        """``(sealed identifier, wrapped data key)`` under a fresh data key."""
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE)
        sealed = nonce + AESGCM(data_key).encrypt(nonce, identifier.encode(), _ID_AAD)
        key_nonce = os.urandom(_NONCE)
        wrapped = key_nonce + self._kek.encrypt(key_nonce, data_key, _KEY_AAD)
        return sealed, wrapped

    def open(self, sealed: bytes, wrapped: bytes) -> str:
        """The plaintext identifier.

        Raises:
            CryptoKeyError: when the key does not open it (wrong master key, or tampering).
        """
        try:
            data_key = self._kek.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], _KEY_AAD)
            plain = AESGCM(data_key).decrypt(sealed[:_NONCE], sealed[_NONCE:], _ID_AAD)
        except InvalidTag as e:
            raise CryptoKeyError(
                "the master key does not open this subject's identifier",
                suggestion="check CREDENCE_MASTER_KEY or the key file (see docs/settings.md)",
            ) from e
        return plain.decode()


def parse_master_key(text: str) -> bytes:
    """A master key written as base64 or hex (32 bytes).

    Raises:
        CryptoKeyError: when it is neither, or not 32 bytes.
    """
    raw = text.strip()
    for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
        try:
            key = decode(raw)
        except (ValueError, binascii.Error):
            continue
        if len(key) == KEY_BYTES:
            return key
    raise CryptoKeyError(
        "the master key must be 32 bytes written as base64 or hex",
        suggestion="generate one with: python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'",
    )


def new_master_key() -> str:
    """A fresh random master key, base64."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def read_key_file(path: Path) -> bytes:
    """The master key from a key file.

    Raises:
        CryptoKeyError: when the file is missing, readable by others, or malformed.
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except FileNotFoundError as e:
        raise CryptoKeyError(
            f"no master key: {path} does not exist and CREDENCE_MASTER_KEY is not set",
            path=str(path),
            suggestion="run `credence init` for a new ledger, or set CREDENCE_MASTER_KEY",
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise CryptoKeyError(f"cannot read key file: {e}", path=str(path)) from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CryptoKeyError(
            f"key file {path} is readable by other users",
            path=str(path),
            suggestion=f"chmod 600 {path}",
        )
    return parse_master_key(text)


def create_key_file(path: Path, key: str | None = None) -> bytes:
    """Write ``key`` (base64; a new one if None) to ``path`` with mode 0600; refuse to overwrite.

    Missing parent directories are created, readable by their owner only.

    Raises:
        CryptoKeyError: when the file exists already or cannot be written.
    """
    text = new_master_key() if key is None else key
    master = parse_master_key(text)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise CryptoKeyError(f"key file {path} exists already", path=str(path)) from e
    except OSError as e:
        raise CryptoKeyError(
            f"cannot create key file {path}: {e.strerror or e}",
            path=str(path),
            suggestion="set CREDENCE_KEY_FILE to a writable place, or CREDENCE_MASTER_KEY",
        ) from e
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    return master
