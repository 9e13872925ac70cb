"""Checks on every HTTP request before any route (the API's and gradio's alike) sees it.

- **Host header** (local mode): only ``localhost``, ``127.0.0.1`` and ``[::1]``. A web page elsewhere can point a
  name it controls at 127.0.0.1 (DNS rebinding) and then talk to the server as if same-origin; its requests carry
  that name as Host, so they are refused.
- **Body size**: a declared Content-Length over the limit is refused before reading; a chunked body (no length)
  is counted as it arrives and cut off at the limit, so gradio's upload route cannot fill memory or the temp
  folder either.
"""

from __future__ import annotations

import json

from python_multipart.exceptions import MultipartParseError

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class BodyTooLarge(MultipartParseError):
    """Raised into the app's ``receive`` once the body passes the limit. A multipart parse error, because that is
    what gradio's upload parser cleans up after: it deletes the temporary files it has written so far."""


def host_name(header: str) -> str:
    """``"[::1]:7860"`` -> ``"[::1]"``, ``"localhost:80"`` -> ``"localhost"`` (lower case)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class RequestGuard:
    """ASGI middleware: ``local`` refuses other Host names; every body is held to ``max_body`` bytes."""

    def __init__(self, app, max_body: int, local: bool):
        self.app, self.max_body, self.local = app, max_body, local

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.local and host_name(headers.get("host", "")) not in LOCAL_HOSTS:
            host = headers.get("host", "")[:100]
            return await _reply(send, 400, f"Host {host!r} refused: this server answers only {', '.join(LOCAL_HOSTS)}")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return await _reply(send, 413, self._too_large(int(declared)))
        received, refused, started = 0, False, False

        async def counted_receive():
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                refused = True
                # with its message: without one, constructing it raised a TypeError instead, which gradio's
                # parser does not catch, so the files it had written stayed in its temp folder
                raise BodyTooLarge(self._too_large(received))
            return message

        async def guarded_send(message):
            nonlocal started
            if not refused:  # once refused, the app's own error reply is replaced by the 413
                started = True
                await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise
        if refused and not started:
            await _reply(send, 413, self._too_large(received))

    def _too_large(self, size: int) -> str:
        return f"request body of at least {size / 2**20:.1f} MiB is over the upload limit ({self.max_body:,} bytes)"


async def _reply(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
