"""One log line per request, under a request ID the response carries in ``X-Request-ID``.

The ID is the client's own ``X-Request-ID`` when it is sane (1 to 128 letters, digits and
``._:-``), otherwise a new one. Log lines written while the request runs (an unexpected error,
say) carry it too, through :data:`current_request_id`. The GraphQL extension
The executor (``api.execution``) adds the operation and its error codes to the line.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from dataclasses import dataclass, field

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("trailql.api.requests")

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_SERVER_ERROR = 500

#: The ID of the request being answered, for every log line written meanwhile.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "trailql_request_id", default=None
)


@dataclass
class RequestRecord:
    """What the request's log line says beyond the HTTP exchange itself."""

    request_id: str
    operation: str | None = None
    error_codes: list[str] = field(default_factory=list)


def request_id_for(headers: Headers) -> str:
    """The client's ID when sane, else a new random one."""
    incoming = headers.get(REQUEST_ID_HEADER, "")
    return incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex


class RequestLog:
    """ASGI middleware: the request ID in and out, and the request's log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer through the app, adding ``X-Request-ID``; then log the request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = RequestRecord(request_id=request_id_for(Headers(scope=scope)))
        state = scope.setdefault("state", {})
        state["request_record"] = record
        status = _SERVER_ERROR
        started = False
        began = time.perf_counter()
        token = current_request_id.set(record.request_id)

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = record.request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error")
            if started:
                raise
            await _internal_error(record.request_id)(scope, receive, send)
        finally:
            duration_ms = round((time.perf_counter() - began) * 1000, 3)
            _log(scope, record, state.get("tenant"), status, duration_ms)
            current_request_id.reset(token)


def _internal_error(request_id: str) -> JSONResponse:
    message = "Internal error; it has been logged."
    body = {"errors": [{"message": message, "extensions": {"code": "INTERNAL"}}]}
    return JSONResponse(body, status_code=_SERVER_ERROR, headers={"X-Request-ID": request_id})


def _log(
    scope: Scope, record: RequestRecord, tenant: object, status: int, duration_ms: float
) -> None:
    level = logging.ERROR if status >= _SERVER_ERROR else logging.INFO
    method, path = scope["method"], scope["path"]
    logger.log(
        level,
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "request_id": record.request_id,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "operation": record.operation,
            "error_codes": record.error_codes,
            "principal": getattr(tenant, "name", None),
        },
    )
