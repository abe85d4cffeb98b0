"""The Okta Python SDK in private-key (OAuth 2.0 service app) mode, against
okta-sim. Used by scripts/okta_sdk_check.py.

The check registers a service app on the running simulator through its admin
surface (`POST /__sim/service-apps`, crates/dirsync-okta-sim README) with the
public JWK of an RSA key made here, then builds a second
`okta.client.Client` with `authorizationMode: PrivateKey`. The SDK (3.x,
okta/jwt.py) signs an RS256 client assertion with `kid`, `iss` = `sub` =
the client id, `aud` = `<orgUrl>/oauth2/v1/token`, `exp` 50 minutes ahead
and a fresh `jti`, trades it for an access token at `/oauth2/v1/token`, and
sends `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import base64
import json
import urllib.request

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from okta.client import Client

CLIENT_ID = "0oasdkcheckservice"
KID = "okta-sdk-check-rsa"
GRANTED = ["okta.users.read", "okta.groups.read"]


def _b64url_uint(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def register_service_app(url: str) -> str:
    """Registers the app on the simulator; returns the private key's PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": KID, "alg": "RS256", "use": "sig", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}
    app = {"client_id": CLIENT_ID, "jwks": [jwk], "granted_scopes": GRANTED, "admin_role": True}
    request = urllib.request.Request(
        url.rstrip("/") + "/__sim/service-apps",
        data=json.dumps(app).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 201:
            raise RuntimeError(f"POST /__sim/service-apps answered {response.status}")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def make_private_key_client(url: str, pem: str) -> Client:
    return Client(
        {
            "orgUrl": url.rstrip("/"),
            "authorizationMode": "PrivateKey",
            "clientId": CLIENT_ID,
            "scopes": GRANTED,
            "privateKey": pem,
            "kid": KID,
            "requestTimeout": 30,
            "rateLimit": {"maxRetries": 2},
        }
    )
