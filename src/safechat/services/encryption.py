"""Encryption at rest: AES-256-GCM with per-group keys derived by HKDF.

This protects message content stored in MongoDB (a database dump or backup
alone does not reveal it). It is not end-to-end encryption: the server holds
the master keys and sees plaintext.

Envelope stored in MongoDB: ``{"v": 1, "kid": str, "iv": bytes(12), "ct": bytes}``
with the group id as associated data, so a ciphertext moved to another group
does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from safechat.datadir import read_or_create
from safechat.errors import DecryptionError

HKDF_INFO = b"safechat/group-key/v1"
# Keys the offline embedding hashing per group (docs/ai.md): a different info string, so
# an embedding key says nothing about the content key of the same group.
EMBEDDING_INFO = b"safechat/embedding-key/v1"
ENVELOPE_VERSION = 1
DEV_KEY_FILE = "encryption.key"


def parse_keyring(spec: str) -> tuple[str, dict[str, bytes]]:
    """Parse ``kid:base64key,kid2:base64key``; the first key encrypts."""
    keys: dict[str, bytes] = {}
    primary = ""
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, b64 = part.partition(":")
        if not sep or not kid:
            raise ValueError("ENCRYPTION_KEYS entries must look like kid:base64key")
        try:
            key = base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"ENCRYPTION_KEYS key {kid!r} is not valid base64") from exc
        if len(key) != 32:
            raise ValueError(f"ENCRYPTION_KEYS key {kid!r} must be 32 bytes")
        if kid in keys:
            raise ValueError(f"ENCRYPTION_KEYS has key id {kid!r} twice")
        keys[kid] = key
        primary = primary or kid
    if not keys:
        raise ValueError("ENCRYPTION_KEYS is empty")
    return primary, keys


def load_or_create_dev_keyring(data_dir: Path) -> str:
    """The dev-mode master key, generated once and kept in the data dir."""

    def make() -> bytes:
        return f"dev1:{base64.b64encode(secrets.token_bytes(32)).decode()}\n".encode()

    return read_or_create(data_dir / DEV_KEY_FILE, make).decode().strip()


class Encryptor:
    """Encrypts and decrypts message content for one group at a time."""

    def __init__(
        self, primary_kid: str, keys: Mapping[str, bytes], legacy_secret: str | None = None
    ) -> None:
        if primary_kid not in keys:
            raise ValueError("primary key id not in keyring")
        self._primary = primary_kid
        self._keys = dict(keys)
        self._legacy_secret = legacy_secret
        # Key derivation is pure; cache per (kid, group).
        self._derive = lru_cache(maxsize=4096)(self._derive_uncached)
        self._derive_embedding = lru_cache(maxsize=4096)(self._embedding_key_uncached)

    @classmethod
    def from_spec(cls, spec: str, legacy_secret: str | None = None) -> Encryptor:
        primary, keys = parse_keyring(spec)
        return cls(primary, keys, legacy_secret)

    @property
    def primary_kid(self) -> str:
        return self._primary

    def _derive_uncached(self, kid: str, group_id: str) -> AESGCM:
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=group_id.encode(),
            info=HKDF_INFO,
        )
        return AESGCM(hkdf.derive(self._keys[kid]))

    def _embedding_key_uncached(self, kid: str, group_id: str) -> bytes:
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=group_id.encode(), info=EMBEDDING_INFO
        )
        return hkdf.derive(self._keys[kid])

    def embedding_key(self, group_id: str) -> bytes:
        """The group's secret for keyed embeddings, from the primary master key (its kid
        is part of the stored model name, so vectors of a rotated key are not compared)."""
        return self._derive_embedding(self._primary, group_id)

    def encrypt(self, plaintext: str, group_id: str) -> dict[str, Any]:
        iv = os.urandom(12)
        ct = self._derive(self._primary, group_id).encrypt(
            iv, plaintext.encode("utf-8"), group_id.encode()
        )
        return {"v": ENVELOPE_VERSION, "kid": self._primary, "iv": iv, "ct": ct}

    def decrypt(self, stored: object, group_id: str) -> str:
        """Decrypt a stored value: a v1 envelope, a legacy string, or ''."""
        if stored is None or stored == "":
            return ""
        if isinstance(stored, Mapping):
            return self._decrypt_envelope(stored, group_id)
        if isinstance(stored, str):
            return self._decrypt_legacy(stored, group_id)
        raise DecryptionError("unknown stored content format")

    def _decrypt_envelope(self, env: Mapping[str, Any], group_id: str) -> str:
        if env.get("v") != ENVELOPE_VERSION:
            raise DecryptionError("unknown envelope version")
        kid = env.get("kid")
        if not isinstance(kid, str) or kid not in self._keys:
            raise DecryptionError("unknown key id")
        try:
            plain = self._derive(kid, group_id).decrypt(
                bytes(env["iv"]), bytes(env["ct"]), group_id.encode()
            )
        except (InvalidTag, KeyError, TypeError, ValueError) as exc:
            raise DecryptionError("ciphertext does not authenticate") from exc
        return plain.decode("utf-8")

    def _decrypt_legacy(self, stored: str, group_id: str) -> str:
        """The old Node service's format: AES-128-CBC in a JSON string."""
        doc = legacy_envelope(stored)
        if doc is None:
            raise DecryptionError("not a legacy envelope")
        if self._legacy_secret is None:
            raise DecryptionError("LEGACY_ENCRYPTION_SECRET is not configured")
        key = legacy_key(str(doc.get("groupId", group_id)), self._legacy_secret)
        try:
            iv = bytes.fromhex(doc["iv"])
            ct = bytes.fromhex(doc["encrypted"])
            decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
            padded = decryptor.update(ct) + decryptor.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
        except (ValueError, TypeError) as exc:
            raise DecryptionError("legacy ciphertext is corrupt") from exc

    def is_current(self, stored: object) -> bool:
        """True when stored content already uses the primary key (for re-encryption)."""
        return isinstance(stored, Mapping) and stored.get("kid") == self._primary


def legacy_envelope(stored: str) -> dict[str, Any] | None:
    """The old service's JSON envelope in `stored`, None when it is not one (plain text)."""
    try:
        doc = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(doc, dict) or "encrypted" not in doc or "iv" not in doc:
        return None
    return doc


def legacy_key(group_id: str, secret: str) -> bytes:
    """Key of the old service: the first 16 ASCII chars of hex(sha256(groupId + secret))."""
    return hashlib.sha256((group_id + secret).encode()).hexdigest()[:16].encode("ascii")


def legacy_encrypt(plaintext: str, group_id: str, secret: str) -> str:
    """Produce the old service's format; used to test the legacy reader."""
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(legacy_key(group_id, secret)), modes.CBC(iv)).encryptor()
    ct = enc.update(data) + enc.finalize()
    return json.dumps({"encrypted": ct.hex(), "iv": iv.hex(), "groupId": group_id})
