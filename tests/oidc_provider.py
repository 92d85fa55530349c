"""A small real OpenID provider for the tests, run as a process of its own.

Built with Authlib's server side: discovery (``/.well-known/openid-configuration``),
``/authorize`` (the authorization code flow, PKCE required, nonce required), ``/token``
(client_secret_basic or _post), ``/jwks`` with an RS256 key made for this run.

The authorize page is a form where the test (or Playwright) says who signs in: the
subject, name, email, username and an optional role claim, then "Allow" or "Deny"
(access_denied). ``POST /test/misbehave`` with ``mode`` makes the next answers wrong
on purpose: ``wrong_aud``, ``wrong_iss``, ``expired`` (the ID token's exp passed an
hour ago), ``bad_signature`` (signed by a key not in the JWKS, with the same kid),
``wrong_nonce``, ``codes_expire`` (every code refused at the token endpoint as
expired), ``no_id_token``; ``mode=`` is good behaviour again.

Run: ``python -m tests.oidc_provider --port P --client-id ID --client-secret S``;
``OidcProvider`` below starts one and waits until it answers.
"""

from __future__ import annotations

import argparse
import html
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def build_app(issuer: str, client_id: str, client_secret: str):
    from authlib.integrations.flask_oauth2 import AuthorizationServer
    from authlib.oauth2.rfc6749 import ClientMixin, grants
    from authlib.oauth2.rfc7636 import CodeChallenge
    from authlib.oidc.core import UserInfo
    from authlib.oidc.core.grants import OpenIDCode
    from flask import Flask, jsonify, request
    from joserfc.jwk import KeySet, RSAKey

    app = Flask("oidc_provider")
    app.config["SECRET_KEY"] = secrets.token_hex(16)
    key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
    # Same kid, not published: a token it signs must fail the signature check.
    impostor = RSAKey.generate_key(
        2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"}
    )
    lock = threading.Lock()
    state = {"mode": ""}
    codes: dict[str, Code] = {}
    tokens: dict[str, dict] = {}

    @dataclass
    class Person:
        sub: str
        claims: dict

    @dataclass
    class Client(ClientMixin):
        client_id: str
        client_secret: str
        redirect_uris: list = field(default_factory=list)

        def get_client_id(self):
            return self.client_id

        def get_default_redirect_uri(self):
            return None

        def get_allowed_scope(self, scope):
            allowed = {"openid", "email", "profile", "roles"}
            return " ".join(s for s in (scope or "").split() if s in allowed)

        def check_redirect_uri(self, redirect_uri):
            # Any address of the app under test (its port changes each run).
            return redirect_uri.startswith(("http://127.0.0.1:", "http://localhost"))

        def check_client_secret(self, secret):
            return secrets.compare_digest(secret, self.client_secret)

        def check_endpoint_auth_method(self, method, endpoint):
            return method in ("client_secret_basic", "client_secret_post")

        def check_response_type(self, response_type):
            return response_type == "code"

        def check_grant_type(self, grant_type):
            return grant_type == "authorization_code"

    @dataclass
    class Code:
        code: str
        client_id: str
        redirect_uri: str
        scope: str
        nonce: str | None
        code_challenge: str | None
        code_challenge_method: str | None
        person: Person
        auth_time: int

        def get_redirect_uri(self):
            return self.redirect_uri

        def get_scope(self):
            return self.scope

        def get_nonce(self):
            return "not-the-nonce-sent" if state["mode"] == "wrong_nonce" else self.nonce

        def get_auth_time(self):
            return self.auth_time

        def get_acr(self):
            return None

        def get_amr(self):
            return None

    the_client = Client(client_id, client_secret)

    class AuthorizationCode(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def save_authorization_code(self, code, req):
            with lock:
                codes[code] = Code(
                    code=code,
                    client_id=req.client.client_id,
                    redirect_uri=req.payload.redirect_uri,
                    scope=req.scope,
                    nonce=req.payload.data.get("nonce"),
                    code_challenge=req.payload.data.get("code_challenge"),
                    code_challenge_method=req.payload.data.get("code_challenge_method"),
                    person=req.user,
                    auth_time=int(time.time()),
                )

        def query_authorization_code(self, code, client):
            if state["mode"] == "codes_expire":
                return None
            with lock:
                item = codes.get(code)
            if item and item.client_id == client.client_id:
                return item
            return None

        def delete_authorization_code(self, authorization_code):
            with lock:
                codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code):
            return authorization_code.person

    class TestOpenIDCode(OpenIDCode):
        def exists_nonce(self, nonce, req):
            with lock:
                return any(c.nonce == nonce for c in codes.values())

        def resolve_client_private_key(self, client):
            return impostor if state["mode"] == "bad_signature" else key

        def get_client_algorithm(self, client):
            return "RS256"

        def get_encode_header(self, client):
            return {"alg": "RS256", "kid": "test-key"}

        def get_client_claims(self, client):
            now = int(time.time())
            mode = state["mode"]
            return {
                "iss": issuer + "/elsewhere" if mode == "wrong_iss" else issuer,
                "aud": ["another-client"] if mode == "wrong_aud" else [client.get_client_id()],
                "iat": now - 7200 if mode == "expired" else now,
                "exp": now - 3600 if mode == "expired" else now + 300,
            }

        def generate_user_info(self, person, scope):
            return UserInfo(sub=person.sub, **person.claims)

        def process_token(self, grant, response):
            token = super().process_token(grant, response)
            if state["mode"] == "no_id_token":
                token.pop("id_token", None)
            return token

    def query_client(cid):
        return the_client if cid == the_client.client_id else None

    def save_token(token, req):
        with lock:
            tokens[token["access_token"]] = token

    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_grant(
        AuthorizationCode, [CodeChallenge(required=True), TestOpenIDCode(require_nonce=True)]
    )

    @app.get("/.well-known/openid-configuration")
    def discovery():
        return jsonify(
            issuer=issuer,
            authorization_endpoint=f"{issuer}/authorize",
            token_endpoint=f"{issuer}/token",
            jwks_uri=f"{issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            scopes_supported=["openid", "email", "profile"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            code_challenge_methods_supported=["S256"],
        )

    @app.get("/jwks")
    def jwks():
        return jsonify(KeySet([key]).as_dict(private=False))

    page = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Test School sign-in</title></head><body><main>
<h1>Test School sign-in</h1><p>{client} wants to know who you are.</p>
<form method="post">
<p><label>Subject <input name="sub" value="pupil-1"></label></p>
<p><label>Name <input name="name" value="Ada Lovelace"></label></p>
<p><label>Email <input name="email" value="ada@school.example"></label></p>
<p><label>Username <input name="preferred_username" value=""></label></p>
<p><label>Role <input name="role" value=""></label></p>
<p><button name="decision" value="allow">Allow</button>
<button name="decision" value="deny">Deny</button></p>
</form></main></body></html>"""

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize():
        from authlib.oauth2 import OAuth2Error

        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as error:
            return f"Bad request: {html.escape(error.error)}", 400
        if request.method == "GET":
            return page.format(client=html.escape(grant.client.client_id))
        if request.form.get("decision") != "allow":
            return server.create_authorization_response(grant_user=None, grant=grant)
        claims = {
            name: request.form[name]
            for name in ("name", "email", "preferred_username", "role")
            if request.form.get(name)
        }
        if "email" in claims:
            claims["email_verified"] = request.form.get("email_verified", "true") == "true"
        person = Person(sub=request.form["sub"], claims=claims)
        return server.create_authorization_response(grant_user=person, grant=grant)

    @app.post("/token")
    def token():
        return server.create_token_response()

    @app.post("/test/misbehave")
    def misbehave():
        state["mode"] = request.form.get("mode", "")
        return {"mode": state["mode"]}

    return app


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OidcProvider:
    """The provider in a process of its own on a free port of 127.0.0.1."""

    def __init__(self, client_id: str = "liveroom", client_secret: str | None = None) -> None:
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        # Its log (one line a request, and any traceback) in a file: a pipe nobody
        # reads would fill and stop it.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.oidc_provider",
                "--port",
                str(self.port),
                "--client-id",
                self.client_id,
                "--client-secret",
                self.client_secret,
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.issuer}/jwks", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the test OpenID provider did not start: {self.errors()}")
            time.sleep(0.1)

    def errors(self) -> str:
        """The end of its log."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def misbehave(self, mode: str = "") -> None:
        requests.post(f"{self.issuer}/test/misbehave", data={"mode": mode}, timeout=10)

    def env(self, name: str = "SCHOOL", **extra: str) -> dict[str, str]:
        """The app's LIVEROOM_OIDC_* variables for this provider."""
        prefix = f"LIVEROOM_OIDC_{name}_"
        return {
            "LIVEROOM_OIDC_PROVIDERS": name.lower(),
            prefix + "ISSUER": self.issuer,
            prefix + "CLIENT_ID": self.client_id,
            prefix + "CLIENT_SECRET": self.client_secret,
            prefix + "NAME": "Test School",
            **{prefix + key: value for key, value in extra.items()},
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    args = parser.parse_args()
    from werkzeug.serving import make_server

    issuer = f"http://127.0.0.1:{args.port}"
    app = build_app(issuer, args.client_id, args.client_secret)
    make_server("127.0.0.1", args.port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    main()
