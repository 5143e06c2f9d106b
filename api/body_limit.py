"""Request bodies over a ceiling are refused with 413 before they are read whole.

A declared ``Content-Length`` over the ceiling is refused at once; a body sent in chunks is
counted as it arrives and refused as soon as it passes the ceiling. A body within it is read
here and handed on unchanged; what comes after it (a disconnect) reaches the app as usual.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ErrorCode, refusal_response

#: How much of a refused body is read and thrown away, as a multiple of the ceiling.
_DRAIN_BOUND = 16


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body within the ceiling, or answer 413."""
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, f"{int(declared):,} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client left before sending it all
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, f"over {self.max_bytes:,} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        message = (
            f"the request body is {size}; at most {self.max_bytes:,} bytes "
            "(TRAILQL_MAX_BODY_BYTES)."
        )
        drained = await self._drain(receive)
        response = refusal_response(413, ErrorCode.PAYLOAD_TOO_LARGE, message)
        if not drained:
            response.headers["connection"] = "close"
        await response(scope, receive, send)

    async def _drain(self, receive: Receive) -> bool:
        """Read the rest of the body, up to a bound, and throw it away; False past the bound.

        A server that answers and closes while a body is still arriving makes the kernel
        reset the connection, and the client, busy writing, never reads the 413. Past the
        bound (a body absurdly large) it is answered and closed anyway.
        """
        drained = 0
        while drained <= _DRAIN_BOUND * self.max_bytes:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return True
            drained += len(message.get("body", b""))
        return False
