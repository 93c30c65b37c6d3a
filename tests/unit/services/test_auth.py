"""TokenVerifier against the dev issuer's keys; Claims mapping; DevIssuer persistence."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from safechat.errors import AuthError, ErrorCode, InvalidToken, TokenExpired
from safechat.services.auth import DEV_KEY_FILE, Claims, DevIssuer, TokenVerifier

ISSUER = "https://issuer.example.test"


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return _rsa()


@pytest.fixture(scope="module")
def issuer(signing_key: rsa.RSAPrivateKey) -> DevIssuer:
    return DevIssuer(signing_key, ISSUER)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return _rsa()


def verifier(issuer: DevIssuer, origins: list[str] | None = None) -> TokenVerifier:
    return TokenVerifier(issuer, ISSUER, origins if origins is not None else [])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return ".".join(b64url(json.dumps(part).encode()) for part in (header, payload))


def payload(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {"sub": "user_1", "iss": ISSUER, "iat": now, "exp": now + 600}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def rs256(key: rsa.RSAPrivateKey, body: dict[str, Any], kid: str | None) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(body, key, algorithm="RS256", headers=headers)


async def refused(v: TokenVerifier, token: object) -> AuthError:
    with pytest.raises(AuthError) as info:
        await v.verify(token)
    return info.value


async def test_valid_token_maps_claims(issuer: DevIssuer) -> None:
    token = issuer.mint(
        "user_abc",
        email="a@example.test",
        first_name="Ada",
        last_name="Lovelace",
        username="ada",
    )
    claims = await verifier(issuer).verify(token)
    assert claims.sub == "user_abc"
    assert claims.email == "a@example.test"
    assert claims.first_name == "Ada"
    assert claims.last_name == "Lovelace"
    assert claims.username == "ada"
    assert claims.exp is not None
    assert abs(claims.exp - (time.time() + 3600)) < 10


async def test_expired_token(issuer: DevIssuer) -> None:
    token = issuer.mint("user_1", ttl_seconds=60, now=time.time() - 120)
    err = await refused(verifier(issuer), token)
    assert isinstance(err, TokenExpired)
    assert err.code is ErrorCode.TOKEN_EXPIRED
    assert err.http_status == 401


async def test_expired_within_leeway_passes(issuer: DevIssuer) -> None:
    # exp two seconds ago: inside the 5 s leeway.
    token = issuer.mint("user_1", ttl_seconds=60, now=time.time() - 62)
    claims = await verifier(issuer).verify(token)
    assert claims.sub == "user_1"
    # With no leeway the same token is expired.
    strict = TokenVerifier(issuer, ISSUER, [], leeway_seconds=0)
    assert isinstance(await refused(strict, token), TokenExpired)


async def test_not_yet_valid(issuer: DevIssuer) -> None:
    token = issuer.mint("user_1", now=time.time() + 120)
    err = await refused(verifier(issuer), token)
    assert err.code is ErrorCode.INVALID_TOKEN


async def test_nbf_within_leeway_passes(issuer: DevIssuer) -> None:
    token = issuer.mint("user_1", extra={"nbf": int(time.time()) + 2})
    assert (await verifier(issuer).verify(token)).sub == "user_1"


async def test_wrong_issuer(issuer: DevIssuer) -> None:
    token = issuer.mint("user_1", extra={"iss": "https://evil.example.test"})
    err = await refused(verifier(issuer), token)
    assert err.code is ErrorCode.INVALID_TOKEN


async def test_missing_issuer(issuer: DevIssuer, signing_key: rsa.RSAPrivateKey) -> None:
    token = rs256(signing_key, payload(iss=None), issuer.kid)
    assert (await refused(verifier(issuer), token)).code is ErrorCode.INVALID_TOKEN


async def test_signed_by_another_key_with_our_kid(
    issuer: DevIssuer, other_key: rsa.RSAPrivateKey
) -> None:
    token = rs256(other_key, payload(), issuer.kid)
    err = await refused(verifier(issuer), token)
    assert err.code is ErrorCode.INVALID_TOKEN


async def test_signed_by_another_issuer_key(issuer: DevIssuer) -> None:
    stranger = DevIssuer(_rsa(), ISSUER)
    assert stranger.kid != issuer.kid
    err = await refused(verifier(issuer), stranger.mint("user_1"))
    assert err.code is ErrorCode.INVALID_TOKEN


async def test_token_without_kid_uses_the_only_key(
    issuer: DevIssuer, signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    assert (await verifier(issuer).verify(rs256(signing_key, payload(), None))).sub == "user_1"
    err = await refused(verifier(issuer), rs256(other_key, payload(), None))
    assert err.code is ErrorCode.INVALID_TOKEN


async def test_hs256_forged_with_public_key_is_refused(
    issuer: DevIssuer, signing_key: rsa.RSAPrivateKey
) -> None:
    # The classic algorithm-confusion attack: HMAC keyed with the public key PEM.
    pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head_body = unsigned({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}, payload())
    sig = hmac.new(pem, head_body.encode(), hashlib.sha256).digest()
    err = await refused(verifier(issuer), f"{head_body}.{b64url(sig)}")
    assert err.code is ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_refused(issuer: DevIssuer, alg: str) -> None:
    token = unsigned({"alg": alg, "typ": "JWT", "kid": issuer.kid}, payload()) + "."
    err = await refused(verifier(issuer), token)
    assert err.code is ErrorCode.INVALID_TOKEN


async def test_rs256_header_with_stripped_signature_is_refused(issuer: DevIssuer) -> None:
    good = issuer.mint("user_1")
    stripped = good.rsplit(".", 1)[0] + "."
    assert (await refused(verifier(issuer), stripped)).code is ErrorCode.INVALID_TOKEN


async def test_tampered_payload_is_refused(issuer: DevIssuer) -> None:
    head, _, sig = issuer.mint("user_1").split(".")
    forged = b64url(json.dumps(payload(sub="user_admin")).encode())
    err = await refused(verifier(issuer), f"{head}.{forged}.{sig}")
    assert err.code is ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize("missing", ["sub", "exp"])
async def test_missing_required_claims(
    issuer: DevIssuer, signing_key: rsa.RSAPrivateKey, missing: str
) -> None:
    token = rs256(signing_key, payload(**{missing: None}), issuer.kid)
    err = await refused(verifier(issuer), token)
    assert err.code is ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize("sub", ["", 12345, "x" * 201])
async def test_invalid_subject(
    issuer: DevIssuer, signing_key: rsa.RSAPrivateKey, sub: object
) -> None:
    token = rs256(signing_key, payload(sub=sub), issuer.kid)
    err = await refused(verifier(issuer), token)
    assert err.code is ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "...", "eyJ.eyJ.sig"])
async def test_garbage_strings(issuer: DevIssuer, token: str) -> None:
    err = await refused(verifier(issuer), token)
    assert err.code is ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize("token", [None, "", 42, {"token": "x"}, ["a"], b"bytes"])
async def test_non_string_or_empty_token(issuer: DevIssuer, token: object) -> None:
    err = await refused(verifier(issuer), token)
    assert err.code is ErrorCode.AUTHENTICATION_FAILED


async def test_oversized_token(issuer: DevIssuer) -> None:
    err = await refused(verifier(issuer), "a" * 20000)
    assert err.code is ErrorCode.AUTHENTICATION_FAILED


async def test_azp_must_be_an_allowed_origin(issuer: DevIssuer) -> None:
    origins = ["https://app.example.test", "https://admin.example.test"]
    v = verifier(issuer, origins)
    ok = issuer.mint("user_1", extra={"azp": "https://admin.example.test"})
    assert (await v.verify(ok)).sub == "user_1"

    bad = issuer.mint("user_1", extra={"azp": "https://evil.example.test"})
    err = await refused(v, bad)
    assert isinstance(err, InvalidToken)

    absent = issuer.mint("user_1")
    assert (await v.verify(absent)).sub == "user_1"


async def test_azp_with_no_allowed_origins_is_refused(issuer: DevIssuer) -> None:
    token = issuer.mint("user_1", extra={"azp": "https://app.example.test"})
    assert (await refused(verifier(issuer, []), token)).code is ErrorCode.INVALID_TOKEN


async def test_azp_with_wildcard_origin_is_accepted(issuer: DevIssuer) -> None:
    token = issuer.mint("user_1", extra={"azp": "https://anything.example.test"})
    assert (await verifier(issuer, ["*"]).verify(token)).sub == "user_1"


@pytest.mark.parametrize("field", ["email", "email_address", "primary_email_address"])
def test_claims_email_sources(field: str) -> None:
    claims = Claims.from_payload({"sub": "u", "exp": 10, field: "e@example.test"})
    assert claims.email == "e@example.test"


def test_claims_email_priority_and_names() -> None:
    claims = Claims.from_payload(
        {
            "sub": "u",
            "exp": 1700000000,
            "email": "",
            "email_address": "second@example.test",
            "primary_email_address": "third@example.test",
            "first_name": "Fn",
            "last_name": "Ln",
            "image_url": "https://img.example.test/a.png",
        }
    )
    assert claims.email == "second@example.test"
    assert claims.first_name == "Fn"
    assert claims.last_name == "Ln"
    assert claims.picture == "https://img.example.test/a.png"
    assert claims.exp == 1700000000.0
    assert claims.username is None


def test_claims_ignores_non_string_values() -> None:
    claims = Claims.from_payload({"sub": "u", "exp": "soon", "email": 5, "given_name": ["x"]})
    assert claims.email is None
    assert claims.first_name is None
    assert claims.exp is None


def test_dev_issuer_persists_its_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = DevIssuer.load_or_create(data_dir, ISSUER)
    path = data_dir / DEV_KEY_FILE
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = DevIssuer.load_or_create(data_dir, ISSUER)
    assert second.kid == first.kid
    assert second.jwks() == first.jwks()
    # Tokens minted before a restart still verify after it.
    token = first.mint("user_1")
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == ISSUER


async def test_dev_issuer_token_verifies_after_reload(tmp_path: Path) -> None:
    first = DevIssuer.load_or_create(tmp_path, ISSUER)
    token = first.mint("user_1")
    second = DevIssuer.load_or_create(tmp_path, ISSUER)
    assert (await verifier(second).verify(token)).sub == "user_1"


def test_dev_issuer_refuses_a_non_rsa_key_file(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / DEV_KEY_FILE).write_bytes(pem)
    with pytest.raises(ValueError, match="not an RSA"):
        DevIssuer.load_or_create(tmp_path, ISSUER)


def test_dev_issuer_jwks(issuer: DevIssuer) -> None:
    keys = issuer.jwks()["keys"]
    assert len(keys) == 1
    jwk = keys[0]
    assert jwk["kid"] == issuer.kid
    assert jwk["alg"] == "RS256"
    assert jwk["use"] == "sig"
    assert jwk["kty"] == "RSA"
    assert "d" not in jwk  # public half only
    # The published key verifies the issuer's tokens.
    public = jwt.PyJWK.from_dict(jwk).key
    decoded = jwt.decode(issuer.mint("user_1"), public, algorithms=["RS256"], issuer=ISSUER)
    assert decoded["sub"] == "user_1"


async def test_dev_issuer_key_for(issuer: DevIssuer) -> None:
    assert await issuer.key_for(issuer.kid) is not None
    assert await issuer.key_for(None) is not None
    assert await issuer.key_for("another-kid") is None


def test_minted_token_shape(issuer: DevIssuer) -> None:
    token = issuer.mint("user_1", ttl_seconds=100, now=1_700_000_000)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == issuer.kid
    body = jwt.decode(token, options={"verify_signature": False})
    assert body["iat"] == body["nbf"] == 1_700_000_000
    assert body["exp"] == 1_700_000_100
    assert body["iss"] == ISSUER
    assert body["sid"].startswith("sess_")
    assert "email" not in body


# --- time claims: numbers only, and a bounded lifetime (issue 9) ----------------------------

DAY = 86400


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "9999999999"},
        {"exp": str(int(time.time()) + 600)},
        {"exp": True},
        {"exp": [int(time.time()) + 600]},
        {"exp": {"$numberLong": "9999999999"}},
        {"iat": str(int(time.time()))},
        {"iat": False},
        {"nbf": str(int(time.time()))},
        {"nbf": True},
    ],
    ids=repr,
)
async def test_non_numeric_time_claims_are_invalid(
    issuer: DevIssuer, signing_key: rsa.RSAPrivateKey, claims: dict[str, Any]
) -> None:
    token = rs256(signing_key, payload(**claims), issuer.kid)
    assert (await refused(verifier(issuer), token)).code is ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize(
    ("iat_offset", "exp_offset"),
    [
        (0, DAY + 60),  # a day and a minute, from iat
        (-30 * DAY, 600),  # issued a month ago, still "valid": lived too long
        (None, DAY + 60),  # no iat: measured from now
        (None, 10 * 365 * DAY),
    ],
)
async def test_tokens_living_longer_than_the_maximum_are_invalid(
    issuer: DevIssuer,
    signing_key: rsa.RSAPrivateKey,
    iat_offset: int | None,
    exp_offset: int,
) -> None:
    now = int(time.time())
    body = payload(exp=now + exp_offset, iat=None if iat_offset is None else now + iat_offset)
    if iat_offset is None:
        body.pop("iat", None)
    token = rs256(signing_key, body, issuer.kid)
    err = await refused(verifier(issuer), token)
    assert err.code is ErrorCode.INVALID_TOKEN
    assert "lifetime" in err.message


async def test_lifetime_limit_is_configurable_and_inclusive(
    issuer: DevIssuer, signing_key: rsa.RSAPrivateKey
) -> None:
    now = int(time.time())
    day = rs256(signing_key, payload(iat=now, exp=now + DAY), issuer.kid)
    assert (await verifier(issuer).verify(day)).sub == "user_1"
    hour = TokenVerifier(issuer, ISSUER, [], max_lifetime_seconds=3600)
    assert (await refused(hour, day)).code is ErrorCode.INVALID_TOKEN
    ok = rs256(signing_key, payload(iat=now, exp=now + 3600), issuer.kid)
    assert (await hour.verify(ok)).sub == "user_1"
    no_iat = payload(exp=now + 1800)
    no_iat.pop("iat")
    assert (await hour.verify(rs256(signing_key, no_iat, issuer.kid))).sub == "user_1"


@pytest.mark.parametrize("token", ["a\ud800.b.c", "é.b.c", "a.b.c\udcff"])
async def test_tokens_that_are_not_ascii_are_malformed(issuer: DevIssuer, token: str) -> None:
    """A JWT is base64url and dots; PyJWT would raise UnicodeEncodeError on a surrogate."""
    assert (await refused(verifier(issuer), token)).code is ErrorCode.INVALID_TOKEN
