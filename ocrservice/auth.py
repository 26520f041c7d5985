"""Who may call ``/api/*``: bearer tokens checked in constant time, and the caller's identity.

The tokens come from any of ``OCR_API_TOKEN`` (one token), ``OCR_API_TOKENS_FILE`` (one per line,
``#`` comments) and ``OCR_API_TOKEN_SECRET`` (an AWS Secrets Manager secret id or ARN whose
``SecretString`` is one token, or several, one per line; read once at start, which is Lambda's
init phase). With none configured the API is open, as before, for deployments that
authenticate in front of the app (AWS_IAM on the Function URL and HTTP API, a reverse proxy).

With tokens configured, every request to a protected path (``/api/`` and ``/metrics``; not
``/healthz``, the page or the API docs) must carry ``Authorization: Bearer <token>``; otherwise
it is answered 401 with the JSON error shape and ``WWW-Authenticate: Bearer`` (RFC 6750 §3)
before the body is read. CORS preflights (``OPTIONS``) are answered by the CORS layer outside this
one and never reach it.

Constant time: the presented token is compared with *every* configured token by
:func:`hmac.compare_digest` (whose running time does not depend on where two equal-length values
differ), with no early exit, so neither the position of the first differing byte nor which
token matched shows in the response time. Only the presented token's length can.

The caller's identity (:func:`caller_identity`) scopes presigned uploads (ocrservice/uploads.py):
``token:<first 16 hex of SHA-256 of the token>`` for a token, ``iam:<caller ARN>`` when the HTTP
API or Function URL authenticated the request with AWS_IAM (the Lambda event's
``requestContext.authorizer.iam``), else ``anonymous``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from ocrcore.config import ConfigError

from .errors import send_error
from .metrics import Metrics

PROTECTED_PREFIXES = ("/api/", "/metrics")
ANONYMOUS = "anonymous"


def token_identity(token: str) -> str:
    """A stable, non-secret name for a token: ``token:`` + 16 hex of its SHA-256."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]


class TokenChecker:
    """The configured bearer tokens. ``check(presented)`` returns the caller's identity or ``None``."""

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        cleaned = [t.strip() for t in tokens if t and t.strip()]
        self._tokens = tuple(t.encode() for t in cleaned)
        self._ids = tuple(token_identity(t) for t in cleaned)

    @property
    def enabled(self) -> bool:
        """True when at least one token is configured (then every protected path needs one)."""
        return bool(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def check(self, presented: str | None) -> str | None:
        """The identity of the token ``presented`` equals, else ``None``.

        Compares with every configured token via :func:`hmac.compare_digest` and no early exit."""
        if presented is None:
            return None
        candidate = presented.encode("utf-8", "surrogateescape")
        found: str | None = None
        for token, identity in zip(self._tokens, self._ids, strict=True):
            if hmac.compare_digest(token, candidate):
                found = identity
        return found

    @classmethod
    def from_settings(cls, settings) -> TokenChecker:
        """Tokens from ``OCR_API_TOKEN``, ``OCR_API_TOKENS_FILE`` and ``OCR_API_TOKEN_SECRET``.

        Raises :class:`ocrcore.config.ConfigError` when a configured source is unreadable or
        holds no token (the service must not start open by accident)."""
        tokens: list[str] = []
        if settings.api_token is not None:
            tokens.append(settings.api_token.get_secret_value())
        if settings.api_tokens_file is not None:
            tokens += _tokens_from_file(settings.api_tokens_file)
        if settings.api_token_secret:
            tokens += _tokens_from_secret(settings.api_token_secret, settings.aws_region)
        checker = cls(tokens)
        configured = settings.api_token is not None or settings.api_tokens_file is not None or settings.api_token_secret
        if configured and not checker.enabled:
            raise ConfigError("OCR_API_TOKEN / OCR_API_TOKENS_FILE / OCR_API_TOKEN_SECRET is set but holds no token")
        return checker


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _tokens_from_file(path: Path) -> list[str]:
    try:
        return _lines(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"OCR_API_TOKENS_FILE: cannot read {path}: {exc.strerror or exc}") from None


def _tokens_from_secret(secret_id: str, region: str) -> list[str]:
    """The secret's ``SecretString`` lines (boto3 honours ``AWS_ENDPOINT_URL_SECRETS_MANAGER``)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        value = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_id)
    except (BotoCoreError, ClientError) as exc:
        raise ConfigError(f"OCR_API_TOKEN_SECRET: cannot read secret {secret_id!r}: {exc}") from None
    return _lines(str(value.get("SecretString") or ""))


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value (scheme case-insensitive)."""
    scheme, _, token = authorization.strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def caller_identity(scope: Scope) -> str:
    """Who made the request: set by :class:`AuthMiddleware` (token), else AWS_IAM's caller from
    the Lambda event mangum puts in the scope, else :data:`ANONYMOUS`."""
    state = scope.get("state") or {}
    if state.get("identity"):
        return str(state["identity"])
    event = scope.get("aws.event") or {}
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    arn = iam.get("userArn") or iam.get("callerId")
    return f"iam:{arn}" if arn else ANONYMOUS


def is_protected(path: str) -> bool:
    return path.startswith(PROTECTED_PREFIXES)


class AuthMiddleware:
    """Pure ASGI: 401 for a protected path without a configured token; identity into ``scope["state"]``."""

    def __init__(self, app: ASGIApp, *, checker: TokenChecker, metrics: Metrics | None = None) -> None:
        self.app, self.checker, self.metrics = app, checker, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.checker.enabled or not is_protected(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        authorization = ""
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                authorization = value.decode("latin-1")
                break
        presented = bearer_token(authorization)
        identity = self.checker.check(presented)
        if identity is None:
            if presented is None:
                challenge, message = 'Bearer realm="ocr"', "this API needs a token: send 'Authorization: Bearer <token>'"
            else:
                challenge, message = 'Bearer realm="ocr", error="invalid_token"', "the token is not valid"
            await send_error(scope, send, 401, "unauthorized", message,
                             headers={"WWW-Authenticate": challenge}, metrics=self.metrics)
            return
        state = scope.setdefault("state", {})
        state["identity"] = identity
        state.setdefault("log", {})["caller"] = identity
        await self.app(scope, receive, send)
