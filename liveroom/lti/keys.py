"""The tool's own RSA key. Platforms ask for its public half (the tool's JWKS, at
``/lti/jwks.json``) when they register the tool; LTI Advantage services would sign
with the private half. Made on first use and kept in the database, so every worker
and every host serves the same key; never exported, like the site's secret key."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy.exc import IntegrityError

from liveroom.extensions import db
from liveroom.models import LtiToolKey

KEY_ID = 1


def _new_key() -> LtiToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:18]).decode().rstrip("=")
    return LtiToolKey(id=KEY_ID, kid=kid, private_pem=pem)


def tool_key() -> LtiToolKey:
    """The tool's key, made (once, whichever worker comes first) when first asked."""
    key = db.session.get(LtiToolKey, KEY_ID)
    if key is not None:
        return key
    db.session.add(_new_key())
    try:
        db.session.commit()
    except IntegrityError:  # another worker made it at the same moment
        db.session.rollback()
    return db.session.get(LtiToolKey, KEY_ID)


def public_pem(key: LtiToolKey) -> str:
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def public_jwk(key: LtiToolKey) -> dict:
    jwk = json.loads(JWK.from_pem(public_pem(key).encode()).export_public())
    jwk.update(kid=key.kid, alg="RS256", use="sig")
    return jwk


def jwks() -> dict:
    """The tool's JSON Web Key Set (its public key only)."""
    return {"keys": [public_jwk(tool_key())]}
