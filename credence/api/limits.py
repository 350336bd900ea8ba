"""The request-size limit, enforced before a body is read whole.

A declared ``Content-Length`` over the limit is refused at once; a body sent
without one (chunked) is counted as it arrives and refused when it passes
the limit. Either way the answer is 413 ``request.too_large`` in the one
error shape.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credence.api.errors import error_response
from credence.errors import RequestTooLarge


class BodyTooLarge(HTTPException):
    """Raised while a body is read, once it passes the limit.

    An ``HTTPException`` so that FastAPI's body parsing passes it on as it is
    rather than calling it a malformed body.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large(limit).message)
        self.limit = limit


def too_large(limit: int) -> RequestTooLarge:
    """The error for a body over ``limit`` bytes."""
    return RequestTooLarge(
        f"the request body is over the limit of {limit:,} bytes",
        suggestion="send the records in smaller batches",
        details={"limit_bytes": limit},
    )


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await error_response(too_large(limit))(scope, receive, send)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
