"""A learning platform for the LTI tests, playing Moodle's part for real: an RSA key
made per run, its JWKS served over HTTP by a small server on a loopback port, the
login initiation run against the app, and a signed ``id_token`` posted to the
launch with the state and nonce the app chose. Nothing of the protocol is mocked:
the app fetches the key set over the network and checks the signature itself."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTRUCTOR = ROLE + "Instructor"
LEARNER = ROLE + "Learner"
TEACHING_ASSISTANT = ROLE + "Instructor#TeachingAssistant"


class SigningKey:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(public).digest()[:12]).decode()
        self.jwk = json.loads(JWK.from_pem(public).export_public())
        self.jwk.update(kid=self.kid, alg="RS256", use="sig")


class Platform:
    """One registered platform. ``start()`` serves its JWKS; ``launch`` runs a whole
    login initiation and launch with a Flask test client (or a requests session)."""

    def __init__(self, issuer: str = "https://lms.example.org", client_id: str = "liveroom-tool"):
        self.issuer = issuer
        self.client_id = client_id
        self.deployment_id = "1"
        self.key = SigningKey()
        self.other_key = SigningKey()  # never published: the "wrong kid" case
        self.pages: dict[str, object] = {}
        self.server: ThreadingHTTPServer | None = None

    # --- Serving ----------------------------------------------------------------

    def start(self) -> Platform:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                if path == "/jwks.json":
                    body = json.dumps({"keys": [platform.key.jwk]}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                page = platform.pages.get(path)
                if callable(page):
                    body = page(self.path).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def key_set_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/jwks.json"

    @property
    def auth_login_url(self) -> str:
        return self.issuer + "/mod/lti/auth.php"

    def registration(self) -> dict:
        return {
            "name": "Test Moodle",
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_login_url": self.auth_login_url,
            "auth_token_url": self.issuer + "/mod/lti/token.php",
            "key_set_url": self.key_set_url,
            "deployment_ids": self.deployment_id,
        }

    # --- The protocol -----------------------------------------------------------

    def id_token(
        self,
        nonce: str,
        *,
        user: str,
        roles: list[str],
        course: dict | None,
        name: str | None = None,
        kid_key: SigningKey | None = None,
        expires_in: int = 300,
        deployment_id: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer or self.issuer,
            "aud": audience or self.client_id,
            "sub": f"user-{user}",
            "iat": now - 5 if expires_in > 0 else now - 600,
            "exp": now + expires_in,
            "nonce": nonce,
            "name": name or user.title(),
            "email": f"{user}@school.example.org",
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": deployment_id or self.deployment_id,
            LTI + "target_link_uri": "https://liveroom.example.org/lti/launch",
            LTI + "resource_link": {"id": "link-1", "title": "Live room"},
            LTI + "roles": roles,
        }
        if course is not None:
            claims[LTI + "context"] = course
        key = kid_key or self.key
        return jwt.encode(claims, key.pem, algorithm="RS256", headers={"kid": key.kid})

    def authorize(self, location: str) -> dict[str, str]:
        """The platform's authorization endpoint: the app's redirect, read."""
        assert location.startswith(self.auth_login_url + "?"), location
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert query["client_id"] == self.client_id
        assert query["response_mode"] == "form_post" and query["scope"] == "openid"
        return query

    def initiate(self, client, user: str, *, issuer: str | None = None):
        """The login initiation, as a browser in the platform's page runs it: post,
        follow the cookie check; the answer is the app's redirect to the platform."""
        answer = client.post(
            "/lti/login",
            data={
                "iss": issuer or self.issuer,
                "login_hint": user,
                "target_link_uri": "https://liveroom.example.org/lti/launch",
                "client_id": self.client_id,
                "lti_deployment_id": self.deployment_id,
            },
        )
        while answer.status_code == 303 and "/lti/login" in answer.headers["Location"]:
            answer = client.get(answer.headers["Location"])
        return answer

    def launch(
        self,
        client,
        user: str,
        roles: list[str],
        course: dict | None = None,
        **token: object,
    ):
        """A whole launch; returns (the launch's answer, the form it posted)."""
        answer = self.initiate(client, user)
        assert answer.status_code == 302, answer.get_data(as_text=True)
        query = self.authorize(answer.headers["Location"])
        course = course if course is not None else {"id": "c1", "label": "BIO1", "title": "Biology"}
        form = {
            "id_token": self.id_token(
                query["nonce"], user=user, roles=roles, course=course, **token
            ),
            "state": query["state"],
        }
        return client.post(query["redirect_uri"], data=form), form


def new_state() -> str:
    return "state-" + str(uuid.uuid4())
