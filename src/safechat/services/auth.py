"""Token verification (Clerk-style RS256 JWTs) and the dev issuer."""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from safechat.datadir import read_or_create
from safechat.errors import AuthError, InvalidToken, TokenExpired

DEV_KEY_FILE = "dev-issuer-key.pem"


@dataclass(frozen=True, slots=True)
class Claims:
    """The identity a verified token carries. Only the server builds these."""

    sub: str
    exp: float | None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    picture: str | None = None
    # The issuer's session id (`sid`): the same for every token of one sign-in.
    session: str | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Claims:
        def text(*names: str) -> str | None:
            for name in names:
                value = payload.get(name)
                if isinstance(value, str) and value:
                    return value
            return None

        sub = payload.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 200:
            raise InvalidToken("Token has no valid subject")
        exp = payload.get("exp")
        return cls(
            sub=sub,
            exp=float(exp) if isinstance(exp, int | float) else None,
            email=text("email", "email_address", "primary_email_address"),
            first_name=text("given_name", "first_name"),
            last_name=text("family_name", "last_name"),
            username=text("username"),
            picture=text("picture", "image_url"),
            session=sid if (sid := text("sid")) and len(sid) <= 200 else None,
        )


class SigningKeys(Protocol):
    """Where verification keys come from (a JWKS URL, or the dev issuer)."""

    async def key_for(self, kid: str | None) -> Any: ...


class TokenVerifier:
    def __init__(
        self,
        keys: SigningKeys,
        issuer: str,
        allowed_origins: list[str],
        leeway_seconds: int = 5,
        *,
        max_lifetime_seconds: int = 86400,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._allowed_origins = set(allowed_origins)
        self._leeway = leeway_seconds
        self._max_lifetime = max_lifetime_seconds

    async def verify(self, token: object) -> Claims:
        if not isinstance(token, str) or not token or len(token) > 16384:
            raise AuthError("Authentication token required")
        if not token.isascii():  # a JWT is base64url and dots; PyJWT would fail to encode it
            raise InvalidToken("Malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("Malformed token") from exc
        if header.get("alg") != "RS256":
            raise InvalidToken("Unsupported token algorithm")
        kid = header.get("kid")
        key = await self._keys.key_for(kid if isinstance(kid, str) else None)
        if key is None:
            raise InvalidToken("Unknown signing key")
        try:
            payload = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            # The signature held; PyJWT reads exp with int(), so `true` "expires" at 1.
            _time_claims(jwt.decode(token, options={"verify_signature": False}))
            raise TokenExpired("Token expired") from exc
        except jwt.InvalidIssuerError as exc:
            # Says whose tokens this server takes (never echoes the token or its claims).
            raise InvalidToken(f"Token was not issued by {self._issuer}") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("Invalid token") from exc
        self._check_times(payload)
        azp = payload.get("azp")
        origins = self._allowed_origins
        if azp is not None and "*" not in origins and azp not in origins:
            raise InvalidToken("Token was issued for another origin")
        return Claims.from_payload(payload)

    def _check_times(self, payload: dict[str, Any]) -> None:
        """PyJWT puts no bound on how long a token lives: refused past the maximum."""
        times = _time_claims(payload)
        # The system clock, not the Clock port: PyJWT has just checked exp and nbf against
        # it (it takes no clock), and the lifetime must be judged on the same time.
        start = times.get("iat", time.time())
        if times["exp"] - start > self._max_lifetime:
            raise InvalidToken(f"Token lifetime exceeds {self._max_lifetime} seconds")


def _time_claims(payload: dict[str, Any]) -> dict[str, float]:
    """exp, iat and nbf as given. PyJWT reads them with int(), so it takes "9999999999"
    and `true`: anything but a JSON number is refused here."""
    times: dict[str, float] = {k: payload[k] for k in ("exp", "iat", "nbf") if k in payload}
    if not all(_is_number(v) for v in times.values()):
        raise InvalidToken("Token time claims must be numbers")
    return times


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class DevIssuer:
    """Signs tokens with an RSA key kept in the data dir (development only)."""

    def __init__(self, private_key: rsa.RSAPrivateKey, issuer: str) -> None:
        self._key = private_key
        self.issuer = issuer
        public = private_key.public_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        self.kid = uuid.uuid5(uuid.NAMESPACE_URL, jwk["n"]).hex[:16]
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        self._jwk = jwk
        self._public = public

    @classmethod
    def load_or_create(cls, data_dir: Path, issuer: str) -> DevIssuer:
        def make() -> bytes:
            return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )

        path = data_dir / DEV_KEY_FILE
        key = serialization.load_pem_private_key(read_or_create(path, make), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} is not an RSA private key")
        return cls(key, issuer)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._jwk]}

    async def key_for(self, kid: str | None) -> Any:
        return self._public if kid in (None, self.kid) else None

    def mint(
        self,
        sub: str,
        *,
        ttl_seconds: int = 3600,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        now: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        # The system clock by default: what PyJWT checks these claims against.
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "sub": sub,
            "iss": self.issuer,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_seconds,
            "sid": f"sess_{uuid.uuid4().hex[:24]}",
        }
        optional = {
            "email": email,
            "given_name": first_name,
            "family_name": last_name,
            "username": username,
        }
        claims.update({k: v for k, v in optional.items() if v})
        claims.update(extra or {})
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})
