"""Encryption at rest: AES-256-GCM envelopes, per-group keys, rotation, legacy reader."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from safechat.errors import DecryptionError
from safechat.services.encryption import (
    DEV_KEY_FILE,
    HKDF_INFO,
    Encryptor,
    legacy_encrypt,
    load_or_create_dev_keyring,
    parse_keyring,
)

GROUP_A = "65f000000000000000000001"
GROUP_B = "65f000000000000000000002"


def b64key(byte: int) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


K1 = f"k1:{b64key(1)}"
K2 = f"k2:{b64key(2)}"


@pytest.fixture
def enc() -> Encryptor:
    return Encryptor.from_spec(K1)


def test_round_trip_and_envelope_shape(enc: Encryptor) -> None:
    env = enc.encrypt("hello, world", GROUP_A)
    assert set(env) == {"v", "kid", "iv", "ct"}
    assert env["v"] == 1
    assert env["kid"] == "k1"
    assert isinstance(env["iv"], bytes)
    assert len(env["iv"]) == 12
    assert b"hello" not in env["ct"]
    assert enc.decrypt(env, GROUP_A) == "hello, world"


def test_empty_and_none_decrypt_to_empty(enc: Encryptor) -> None:
    assert enc.decrypt(None, GROUP_A) == ""
    assert enc.decrypt("", GROUP_A) == ""
    assert enc.decrypt(enc.encrypt("", GROUP_A), GROUP_A) == ""


def test_ciphertext_of_one_group_does_not_decrypt_in_another(enc: Encryptor) -> None:
    env = enc.encrypt("secret", GROUP_A)
    with pytest.raises(DecryptionError):
        enc.decrypt(env, GROUP_B)


def test_per_group_key_is_hkdf_of_the_master_key(enc: Encryptor) -> None:
    env = enc.encrypt("derived", GROUP_B)
    master = bytes([1]) * 32
    # The raw master key does not open it: a per-group key is used, not only the AD.
    with pytest.raises(InvalidTag):
        AESGCM(master).decrypt(env["iv"], env["ct"], GROUP_B.encode())
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=GROUP_B.encode(), info=HKDF_INFO
    ).derive(master)
    assert AESGCM(derived).decrypt(env["iv"], env["ct"], GROUP_B.encode()) == b"derived"
    # And the group id is the associated data.
    with pytest.raises(InvalidTag):
        AESGCM(derived).decrypt(env["iv"], env["ct"], GROUP_A.encode())


@pytest.mark.parametrize("field", ["ct", "iv"])
def test_tampering_is_detected(enc: Encryptor, field: str) -> None:
    env = enc.encrypt("do not touch", GROUP_A)
    raw = bytearray(env[field])
    raw[0] ^= 0x01
    with pytest.raises(DecryptionError):
        enc.decrypt({**env, field: bytes(raw)}, GROUP_A)


def test_truncated_or_malformed_envelopes_fail(enc: Encryptor) -> None:
    env = enc.encrypt("abc", GROUP_A)
    bad = [
        {**env, "ct": env["ct"][:-1]},
        {**env, "iv": b""},
        {**env, "v": 2},
        {**env, "kid": "nope"},
        {**env, "kid": 5},
        {k: v for k, v in env.items() if k != "ct"},
        {k: v for k, v in env.items() if k != "iv"},
    ]
    for stored in bad:
        with pytest.raises(DecryptionError):
            enc.decrypt(stored, GROUP_A)
    with pytest.raises(DecryptionError):
        enc.decrypt(12345, GROUP_A)


def test_key_rotation() -> None:
    old = Encryptor.from_spec(K1)
    stored = old.encrypt("before rotation", GROUP_A)

    rotated = Encryptor.from_spec(f"{K2},{K1}")
    assert rotated.primary_kid == "k2"
    assert rotated.decrypt(stored, GROUP_A) == "before rotation"
    assert not rotated.is_current(stored)
    assert old.is_current(stored)

    fresh = rotated.encrypt("after rotation", GROUP_A)
    assert fresh["kid"] == "k2"
    assert rotated.is_current(fresh)
    assert rotated.decrypt(fresh, GROUP_A) == "after rotation"
    # The old keyring alone cannot read content made with the new key.
    with pytest.raises(DecryptionError):
        old.decrypt(fresh, GROUP_A)
    # Dropping k1 from the keyring makes old content unreadable.
    with pytest.raises(DecryptionError):
        Encryptor.from_spec(K2).decrypt(stored, GROUP_A)


def test_is_current_on_non_envelopes(enc: Encryptor) -> None:
    assert not enc.is_current(None)
    assert not enc.is_current("")
    assert not enc.is_current(legacy_encrypt("x", GROUP_A, "s"))


def test_same_key_id_with_other_key_material_fails() -> None:
    stored = Encryptor.from_spec(K1).encrypt("x", GROUP_A)
    with pytest.raises(DecryptionError):
        Encryptor.from_spec(f"k1:{b64key(9)}").decrypt(stored, GROUP_A)


def test_parse_keyring() -> None:
    primary, keys = parse_keyring(f" {K2} , {K1} ,")
    assert primary == "k2"
    assert list(keys) == ["k2", "k1"]
    assert keys["k1"] == bytes([1]) * 32


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        (" , ,", "empty"),
        (b64key(1), "kid:base64key"),
        (f":{b64key(1)}", "kid:base64key"),
        ("k1:not*base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "32 bytes"),
        (f"k1:{base64.b64encode(bytes(33)).decode()}", "32 bytes"),
        (f"{K1},k1:{b64key(3)}", "twice"),
    ],
)
def test_parse_keyring_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_keyring(spec)


def test_encryptor_needs_primary_in_keyring() -> None:
    with pytest.raises(ValueError, match="primary"):
        Encryptor("k9", {"k1": bytes(32)})


def test_legacy_format_reader() -> None:
    stored = legacy_encrypt("héllo from node ✓", GROUP_A, "old-secret")
    doc = json.loads(stored)
    assert set(doc) == {"encrypted", "iv", "groupId"}
    assert len(bytes.fromhex(doc["iv"])) == 16

    reader = Encryptor.from_spec(K1, legacy_secret="old-secret")
    assert reader.decrypt(stored, GROUP_A) == "héllo from node ✓"
    # The legacy key comes from the groupId recorded in the envelope.
    assert reader.decrypt(stored, GROUP_B) == "héllo from node ✓"


def test_legacy_format_needs_the_secret() -> None:
    stored = legacy_encrypt("old message", GROUP_A, "old-secret")
    with pytest.raises(DecryptionError, match="LEGACY_ENCRYPTION_SECRET"):
        Encryptor.from_spec(K1).decrypt(stored, GROUP_A)


def test_legacy_format_with_wrong_secret_fails() -> None:
    wrong = Encryptor.from_spec(K1, legacy_secret="other-secret")
    for i in range(20):
        stored = legacy_encrypt(f"message {i}", GROUP_A, "old-secret")
        with pytest.raises(DecryptionError):
            wrong.decrypt(stored, GROUP_A)


@pytest.mark.parametrize(
    "stored",
    [
        "plain text, not json",
        json.dumps(["a", "list"]),
        json.dumps({"encrypted": "00"}),
        json.dumps({"encrypted": "zz", "iv": "00" * 16}),
        json.dumps({"encrypted": "00" * 16, "iv": "short"}),
        json.dumps({"encrypted": "00" * 15, "iv": "00" * 16}),
    ],
)
def test_legacy_reader_rejects_garbage(stored: str) -> None:
    with pytest.raises(DecryptionError):
        Encryptor.from_spec(K1, legacy_secret="s").decrypt(stored, GROUP_A)


def test_dev_keyring_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    spec = load_or_create_dev_keyring(data_dir)
    path = data_dir / DEV_KEY_FILE
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    primary, keys = parse_keyring(spec)
    assert primary == "dev1"
    assert len(keys["dev1"]) == 32

    # Reused on the next start: content encrypted before decrypts after.
    assert load_or_create_dev_keyring(data_dir) == spec
    stored = Encryptor.from_spec(spec).encrypt("kept", GROUP_A)
    again = Encryptor.from_spec(load_or_create_dev_keyring(data_dir))
    assert again.decrypt(stored, GROUP_A) == "kept"

    # Another data dir gets another key.
    assert load_or_create_dev_keyring(tmp_path / "other") != spec


def test_ivs_are_unique(enc: Encryptor) -> None:
    envs = [enc.encrypt("same", GROUP_A) for _ in range(500)]
    assert len({e["iv"] for e in envs}) == 500
    assert len({e["ct"] for e in envs}) == 500


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300), group=st.sampled_from([GROUP_A, GROUP_B]))
def test_round_trip_property(text: str, group: str) -> None:
    enc = Encryptor.from_spec(f"{K2},{K1}")
    assert enc.decrypt(enc.encrypt(text, group), group) == text
