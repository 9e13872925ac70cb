"""The HTTP API: JSON (or a form with a photo) in, PNG / GIF or base64 JSON out, one clear line on any error.

A small FastAPI app rather than gradio's own API: gradio's endpoints are a two-request queue protocol (submit,
then read an event stream) that ``curl`` users must learn, while these are one request each, with plain status
codes (400 bad input, 413 too large, 503 busy) that scripts can act on. Both call the same :class:`FaceService`.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from facegen.app.guard import RequestGuard
from facegen.app.service import BadRequest, Busy, FaceService, TooLarge, encode_gif, encode_png, grid_image
from facegen.pipeline import MORPH_SEED

# Multipart boundaries and the small fields beside the photo; with room for gradio's own per-file check to see a
# file over the limit first (it then deletes what it wrote; the body limit is the backstop for several files).
FORM_OVERHEAD = 2**20
VIDEO_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".gif": "image/gif"}


class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attributes: dict[str, Any] | str | None = Field(None, examples=[{"Smiling": 1, "Eyeglasses": 1}])
    num_faces: int = 4
    seed: int = 0
    steps: int | None = None
    sampler: str | None = None
    cfg_scale: float | None = None
    prompt: str | None = None
    format: Literal["json", "png"] = "json"


class InterpolateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_attributes: dict[str, Any] | str | None = None
    to_attributes: dict[str, Any] | str | None = None
    seeds: list[int] | None = None
    num_frames: int = 8
    seed: int = MORPH_SEED
    steps: int | None = None
    cfg_scale: float | None = None
    format: Literal["json", "gif"] = "json"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _b64(image) -> str:
    return base64.b64encode(encode_png(image)).decode()


def _validation_message(err: RequestValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query"))
    return f"{where or 'request'}: {first.get('msg', 'invalid')}"


def build_api(service: FaceService, local: bool = True) -> FastAPI:
    """The API; ``local``: only loopback Host names are answered (see ``facegen.app.guard``)."""
    api = FastAPI(title="facegen", docs_url="/api/docs", openapi_url="/api/openapi.json")
    # Wraps every route, gradio's too once it is mounted on this app.
    api.add_middleware(RequestGuard, max_body=service.limits.max_upload_bytes + FORM_OVERHEAD, local=local)

    @api.exception_handler(BadRequest)
    async def _bad(_: Request, err: BadRequest):
        return _error(413 if isinstance(err, TooLarge) else 400, str(err))

    @api.exception_handler(Busy)
    async def _busy(_: Request, err: Busy):
        return _error(503, str(err))

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError):
        return _error(400, _validation_message(err))

    @api.exception_handler(Exception)
    async def _failed(_: Request, err: Exception):  # the message, never a traceback page
        return _error(500, f"the model failed on this request: {type(err).__name__}: {err}"[:600])

    @api.get("/api/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/api/model")
    def model() -> dict[str, Any]:
        return service.info()

    @api.post("/api/generate")
    def generate(body: GenerateBody):
        images = service.generate(
            body.attributes, body.num_faces, body.seed, body.steps, body.sampler, body.cfg_scale, body.prompt
        )
        if body.format == "png":
            return Response(encode_png(grid_image(images)), media_type="image/png")
        return {"seed": body.seed, "images": [_b64(image) for image in images]}

    @api.post("/api/edit")
    async def edit(
        image: UploadFile = File(...),
        changes: str = Form(..., examples=["Smiling=1"]),
        strength: float | None = Form(None),
        steps: int | None = Form(None),
        cfg_scale: float | None = Form(None),
        align: bool = Form(True),
        format: Literal["json", "png"] = Form("json"),
    ):
        data = await image.read(service.limits.max_upload_bytes + 1)  # never more than the limit in memory
        photo = service.read_image(data, image.filename or "image")
        result = service.edit(photo, changes, strength, steps, cfg_scale, align, name=image.filename or "photo")
        pictures = result.pictures()
        if format == "png":
            return Response(encode_png(pictures.get("pasted", pictures["edited"])), media_type="image/png")
        return {"note": result.note, **{name: _b64(picture) for name, picture in pictures.items()}}

    @api.post("/api/animate")
    async def animate(
        image: UploadFile | None = File(None),
        to: str | None = Form(None, examples=["Smiling=1"]),
        then: list[str] = Form([]),
        from_attributes: str | None = Form(None),
        seeds: str | None = Form(None, examples=["1,2,3"]),
        num_frames: int = Form(24),
        fps: int = Form(12),
        steps: int | None = Form(None),
        cfg_scale: float | None = Form(None),
        paste_back: bool = Form(False),
        seed: int = Form(MORPH_SEED),
        format: Literal["mp4", "webm", "gif"] = Form("mp4"),
    ):
        """A video (``format``) of a photo (``image``, with ``to`` and any ``then``), a generated face
        (``from_attributes``, ``to``) or ``seeds`` ("1,2,3") moving along an eased path."""
        photo = None
        if image is not None and image.filename:
            data = await image.read(service.limits.max_upload_bytes + 1)  # never more than the limit in memory
            photo = service.read_image(data, image.filename or "image")
        keyframes = ([to] if to else []) + [t for t in then if t]
        if then and not to:
            raise BadRequest("then needs to first (the first keyframe)")
        clip = await run_in_threadpool(
            service.animate, photo, keyframes, from_attributes, seeds, num_frames, fps, steps, cfg_scale, paste_back,
            seed,
        )  # fmt: skip
        suffix = f".{format}"
        data = await run_in_threadpool(clip.encode, suffix)
        headers = {"Content-Disposition": f'attachment; filename="animation{suffix}"'}
        return Response(data, media_type=VIDEO_TYPES[suffix], headers=headers)

    @api.post("/api/interpolate")
    def interpolate(body: InterpolateBody):
        frames = service.interpolate(
            body.from_attributes, body.to_attributes, body.seeds, body.num_frames, body.seed, body.steps, body.cfg_scale
        )
        if body.format == "gif":
            return Response(encode_gif(frames), media_type="image/gif")
        return {"frames": [_b64(frame) for frame in frames]}

    return api
