"""Logs: one JSON object a line on stderr, a request id on every line a request causes.

`configure_logging()` is called once by `atrest serve`, before migrations and uvicorn; uvicorn's
own loggers then go through the same handler (its access log is off: `RequestIdMiddleware`
writes one access line per request instead). Nothing here logs a query string, a header
value or a database URL: paths, methods, status codes and error class names only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RAW = REQUEST_ID_HEADER.lower().encode("latin-1")
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: The id of the request being served; None outside a request.
request_id_var: ContextVar[str | None] = ContextVar("atrest_request_id", default=None)

access_logger = logging.getLogger("atrest.access")

# The attributes every LogRecord has: anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# uvicorn's coloured duplicate of the message; `request_id` is written on its own.
_SKIPPED_EXTRAS = frozenset({"color_message", "request_id"})
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or None) on every record as `record.request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the request id; never drops a record."""
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, then any extras
    (method, path, status, duration_ms on access lines) and the exception with its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in _SKIPPED_EXTRAS:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _AtrestHandler(logging.StreamHandler[IO[str]]):
    """The stream handler `configure_logging` installs on the root logger (recognised by type,
    so that configuring again replaces it instead of doubling every line)."""


class _ConnectionChatter(logging.Filter):
    """Drops the two lines alembic's MigrationContext writes for every connection it is given
    (/readyz makes one per probe); "Running upgrade ..." lines stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for "Context impl ..." and "Will assume ... DDL"."""
        return record.msg not in ("Context impl %s.", "Will assume %s DDL.")


def make_handler(log_format: str = "json", stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing `log_format` ("json" or "text") lines to `stream` (default stderr)."""
    handler = _AtrestHandler(stream)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    return handler


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """Send every log record (the app's, uvicorn's, alembic's) to one stderr handler in the
    configured format and level. Safe to call again: the previous handler is replaced."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _AtrestHandler)]:
        root.removeHandler(old)
    root.addHandler(make_handler(settings.log_format, stream))
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    root.setLevel(level)
    # uvicorn's loggers keep no handler of their own and propagate to ours; its access log is
    # replaced by RequestIdMiddleware's, which carries the request id and no query string.
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    migration_logger = logging.getLogger("alembic.runtime.migration")
    for old_filter in [f for f in migration_logger.filters if isinstance(f, _ConnectionChatter)]:
        migration_logger.removeFilter(old_filter)
    migration_logger.addFilter(_ConnectionChatter())
    # SQL statements carry values, and the AWS SDK's debug lines carry request headers (session
    # tokens): never below WARNING and INFO respectively, whatever the level.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    for name in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(name).setLevel(max(level, logging.INFO))


def logging_configured() -> bool:
    """Whether configure_logging() has run in this process (alembic then keeps its hands off)."""
    return any(isinstance(h, _AtrestHandler) for h in logging.getLogger().handlers)


def sane_request_id(value: str | None) -> str:
    """`value` when it is a safe token (<= 64 of A-Z a-z 0-9 . _ -), else a new uuid4 hex."""
    if value is not None and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI middleware: gives each HTTP request an id (an incoming X-Request-ID when it is
    a safe token, else a new one), puts it on `request.state.request_id`, in the log context
    and in the response's X-Request-ID header, and writes one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request with its id."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.lower() == _REQUEST_ID_RAW),
            None,
        )
        request_id = sane_request_id(incoming)
        scope.setdefault("state", {})["request_id"] = request_id
        # Not reset afterwards: each request runs in a task of its own (its own context), and
        # uvicorn's "Exception in ASGI application" line, written after we return, carries it.
        request_id_var.set(request_id)
        status = 500  # if the app fails before it starts a response
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != _REQUEST_ID_RAW
                ]
                headers.append((_REQUEST_ID_RAW, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            method, path = scope["method"], scope["path"]
            access_logger.info(
                "%s %s %s %.1f ms",
                method,
                path,
                status,
                duration_ms,
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
