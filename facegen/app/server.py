"""``facegen serve``: the HTTP API and the web page in one local server."""

from __future__ import annotations

import ipaddress
import socket

from fastapi import FastAPI

from facegen.app.service import FaceService, Limits
from facegen.pipeline import FacePipeline

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Other machines reach the server only when the user says so: a model server is not a public service."""
    if not is_loopback(host) and not allow_remote:
        raise ValueError(f"--host {host}: serving beyond this machine needs --allow-remote (default host: 127.0.0.1)")


def check_port(host: str, port: int) -> None:
    """Fail now, in one line, when the port is taken, not after the model has loaded."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as err:
        reason = (err.strerror or str(err)).split(" (")[0]
        raise ValueError(
            f"--host {host} --port {port}: cannot listen there ({reason}); choose another --port"
        ) from None


def build_app(service: FaceService, local: bool = True) -> FastAPI:
    """The API under ``/api`` and the page at ``/``, sharing one service (one queue, one model); ``local``: only
    loopback Host names are answered."""
    import gradio as gr

    from facegen.app.api import build_api
    from facegen.app.ui import build_ui

    app = build_api(service, local)
    upload = service.limits.max_upload_bytes  # gradio refuses a larger file itself and deletes what it wrote
    return gr.mount_gradio_app(app, build_ui(service), path="/", show_error=False, max_file_size=upload)


def serve(
    pipeline: FacePipeline,
    name: str,
    host: str = "127.0.0.1",
    port: int = 7860,
    allow_remote: bool = False,
    limits: Limits = Limits(),
) -> None:
    """Serve a loaded pipeline (a base model, or one carrying a learned person) until interrupted."""
    import uvicorn

    check_host(host, allow_remote)
    check_port(host, port)
    service = FaceService(pipeline, limits, name=name)
    print(f"facegen: serving {service.name} on http://{host}:{port} (API: /api, docs: /api/docs)", flush=True)
    uvicorn.run(build_app(service, local=not allow_remote), host=host, port=port, log_level="warning")
