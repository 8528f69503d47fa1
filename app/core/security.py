"""Web hardening in one pure ASGI middleware: security headers on every response, a request
body size limit, and the cookies the access layer asked for (sign-in session, CSRF).

The Content-Security-Policy allows no inline script and nothing from another origin. The
interactive API docs (/docs) load Swagger UI from a CDN with an inline bootstrap script, so
that one page gets its own, looser policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
    "https://fastapi.tiangolo.com; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
SESSION_MAX_AGE = 12 * 3600


def _server_error(path: str) -> tuple[Message, Message]:
    """A 500 answer's two messages: JSON under /api/, plain text elsewhere."""
    api = path.startswith("/api/")
    body = b'{"detail": "Internal Server Error"}' if api else b"Internal Server Error"
    kind = b"application/json" if api else b"text/plain; charset=utf-8"
    start = {
        "type": "http.response.start",
        "status": 500,
        "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


class BodyTooLarge(Exception):
    """The request body went over the limit while it was being read."""


def _cookie(name: str, value: str, *, secure: bool, max_age: int | None) -> bytes:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode()


class SecurityMiddleware:
    """Headers, body limit and cookies for every HTTP response of the app."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, secure_cookies: bool | None) -> None:
        """Wrap `app`; `secure_cookies` None means: Secure when the request came over https."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an oversized body with 413; add the headers and cookies to the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise BodyTooLarge()
            return message

        secure = self.secure_cookies
        if secure is None:
            secure = scope.get("scheme") == "https"
        path = str(scope.get("path", ""))
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                policy = DOCS_CSP if path.startswith("/docs") else CSP
                headers.append((b"content-security-policy", policy.encode()))
                headers.extend(HEADERS)
                state = scope.get("state") or {}
                cookie = state.get("set_session_cookie")
                if cookie is not None:
                    value = _cookie(
                        "atrest_session", cookie, secure=secure, max_age=SESSION_MAX_AGE
                    )
                    headers.append((b"set-cookie", value))
                if state.get("clear_session_cookie"):
                    headers.append(
                        (b"set-cookie", _cookie("atrest_session", "", secure=secure, max_age=0))
                    )
                anon = state.get("set_anon_csrf_cookie")
                if anon is not None:
                    headers.append(
                        (b"set-cookie", _cookie("atrest_csrf", anon, secure=secure, max_age=None))
                    )
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            await self._too_large(send)
        except Exception:
            # A failure the app did not answer: the 500 gets the headers (and, from the
            # middleware outside, the request id) of every other response; the server still
            # logs the exception. Once a response has started, only the connection can drop.
            if not started:
                for message in _server_error(path):
                    await send_with_headers(message)
            raise

    async def _too_large(self, send: Send) -> None:
        body = f'{{"detail": "request body larger than {self.max_body_bytes} bytes"}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"content-security-policy", CSP.encode()),
                    *HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
