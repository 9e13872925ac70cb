"""The web page (gradio): Generate, Edit, Interpolate and Model tabs over one :class:`FaceService`.

The page only turns widgets into service calls and results into pictures; every check lives in the service, and
its one-line refusals are shown on the page as gradio errors.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from facegen.app.service import ATTRIBUTE_GROUPS, BadRequest, Busy, FaceService, encode_gif, encode_png, grid_image
from facegen.pipeline import MORPH_SEED

STATES = {"any": 0, "yes": 1, "no": -1}  # the three states of an attribute, as the page names them
KEEP_FILES = 64  # downloads kept on disk per server; older ones are removed


class _Downloads:
    """Files the page offers for download (grids, GIFs), in one private folder that never grows past KEEP_FILES."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="facegen-app-"))

    def write(self, data: bytes, suffix: str) -> str:
        files = sorted(self.folder.iterdir(), key=lambda f: f.stat().st_mtime)
        for old in files[: max(0, len(files) - KEEP_FILES + 1)]:
            old.unlink(missing_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.folder, suffix=suffix, delete=False) as handle:
            handle.write(data)
        return handle.name


def _run(call, *args, **kwargs):
    """A service call whose refusals become messages on the page instead of an error trace."""
    try:
        return call(*args, **kwargs)
    except (BadRequest, Busy) as err:
        raise gr.Error(str(err), print_exception=False) from None


def _attribute_controls() -> list[gr.Radio]:
    controls = []
    for group, names in ATTRIBUTE_GROUPS.items():
        with gr.Accordion(group, open=group in ("Person", "Expression")):
            with gr.Row():
                for name in names:
                    controls.append(
                        gr.Radio(list(STATES), value="any", label=name.replace("_", " "), elem_id=f"attr-{name}")
                    )
    return controls


def _changes(add: list[str] | None, remove: list[str] | None) -> dict[str, int]:
    both = set(add or ()) & set(remove or ())
    if both:
        raise gr.Error(f"{', '.join(sorted(both))}: chosen both to add and to remove", print_exception=False)
    return {**{name: 1 for name in add or ()}, **{name: -1 for name in remove or ()}}


def _generate_tab(service: FaceService, downloads: _Downloads, info: dict[str, Any]) -> None:
    names = [name for group in ATTRIBUTE_GROUPS.values() for name in group]
    with gr.Row():
        with gr.Column(scale=3):
            prompt = gr.Textbox(label="Prompt", visible=info["conditioning"] == "text", elem_id="prompt")
            controls = _attribute_controls() if info["conditioning"] == "attributes" else []
        with gr.Column(scale=2):
            with gr.Row():
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="seed")
                randomize = gr.Checkbox(value=True, label="New seed each time", elem_id="randomize")
            num_faces = gr.Slider(1, service.limits.max_faces, value=8, step=1, label="Faces", elem_id="num-faces")
            with gr.Row():
                steps = gr.Slider(1, service.limits.max_steps, value=info["steps"], step=1, label="Steps")
                sampler = gr.Dropdown(info["samplers"], value=info["sampler"], label="Sampler")
                guidance = gr.Slider(0, 10, value=info["cfg_scale"], step=0.25, label="Guidance")
            button = gr.Button("Generate", variant="primary", elem_id="generate")
            gallery = gr.Gallery(label="Faces", columns=4, height="auto", elem_id="gallery")
            download = gr.File(label="Download the grid (PNG)", elem_id="download")

    def run(prompt_text, seed_value, new_seed, n, steps_value, sampler_name, scale, *states, progress=gr.Progress()):
        if new_seed:
            seed_value = random.randrange(2**31)
        spec = {name: STATES[state] for name, state in zip(names, states) if STATES[state] != 0}
        progress(0, desc="generating")
        images = _run(
            service.generate, spec or None, n, seed_value, steps_value, sampler_name, scale, prompt_text or None
        )
        return images, downloads.write(encode_png(grid_image(images)), ".png"), seed_value

    button.click(
        run,
        [prompt, seed, randomize, num_faces, steps, sampler, guidance, *controls],
        [gallery, download, seed],
        concurrency_limit=1,
    )


def _edit_tab(service: FaceService) -> None:
    names = [name for group in ATTRIBUTE_GROUPS.values() for name in group]
    with gr.Row():
        with gr.Column():
            photo = gr.File(label="Photo of a face (PNG, JPEG, WEBP)", elem_id="photo")
            add = gr.Dropdown(names, multiselect=True, value=["Smiling"], label="Add", elem_id="add")
            remove = gr.Dropdown(names, multiselect=True, label="Remove", elem_id="remove")
            strength = gr.Slider(0.1, 1.0, value=0.6, step=0.05, label="Strength (more changes more)")
            button = gr.Button("Edit", variant="primary", elem_id="edit")
        with gr.Column():
            with gr.Row():
                before = gr.Image(label="Before (as the model sees it)", elem_id="before")
                after = gr.Image(label="After", elem_id="after")
            pasted = gr.Image(label="Your photo with the change", elem_id="pasted")
            note = gr.Markdown(elem_id="edit-note")
            rebuilt = gr.Image(label="Rebuilt without a change (what the model keeps of the face)", height=160)

    def run(upload, add_names, remove_names, strength_value, progress=gr.Progress()):
        if upload is None:
            raise gr.Error("upload a photo first", print_exception=False)
        path = Path(upload)
        progress(0, desc="editing")
        with open(path, "rb") as handle:  # never more than the limit in memory: read_image refuses the rest
            data = handle.read(service.limits.max_upload_bytes + 1)
        image = _run(service.read_image, data, path.name)
        result = _run(service.edit, image, _changes(add_names, remove_names), strength_value)
        images = result.images
        return images["input"], images["edited"], images.get("pasted"), f"*{result.note}*", images["reconstruction"]

    button.click(run, [photo, add, remove, strength], [before, after, pasted, note, rebuilt], concurrency_limit=1)


def _interpolate_tab(service: FaceService, downloads: _Downloads) -> None:
    with gr.Row():
        with gr.Column():
            with gr.Row():
                # both the CLI's MORPH_SEED: an attribute morph shows the face chosen for it
                seed_a = gr.Number(value=MORPH_SEED, precision=0, minimum=0, label="From seed")
                seed_b = gr.Number(
                    value=MORPH_SEED, precision=0, minimum=0, label="To seed", info="same seed: one face"
                )
            start = gr.Textbox(label="From attributes (optional)", placeholder="Male=1,Smiling=0")
            end = gr.Textbox(label="To attributes (optional)", placeholder="Male=0,Smiling=1")
            frames = gr.Slider(2, service.limits.max_frames, value=8, step=1, label="Frames")
            button = gr.Button("Interpolate", variant="primary", elem_id="interpolate")
        with gr.Column():
            animation = gr.Image(label="Animation (GIF)", type="filepath", elem_id="animation")
            strip = gr.Gallery(label="Frames", columns=8, height="auto")

    def run(a, b, from_text, to_text, n, progress=gr.Progress()):
        progress(0, desc="interpolating")
        images = _run(service.interpolate, from_text or None, to_text or None, (a, b), n)
        return downloads.write(encode_gif(images), ".gif"), images

    button.click(run, [seed_a, seed_b, start, end, frames], [animation, strip], concurrency_limit=1)


def _model_tab(info: dict[str, Any]) -> None:
    rows = "\n".join(
        f"| {key} | {info[key]} |"
        for key in ("name", "device", "image_size", "conditioning", "objective", "sampler", "steps", "cfg_scale")
    )
    gr.Markdown(f"| | |\n|---|---|\n| parameters | {info['parameters_m']} M |\n{rows}", elem_id="model-info")
    if info["card"]:
        gr.Markdown(info["card"])


def build_ui(service: FaceService) -> gr.Blocks:
    info = service.info()
    downloads = _Downloads()
    with gr.Blocks(title="facegen") as page:
        size = f"{info['image_size']}x{info['image_size']}"
        gr.Markdown(f"# facegen\nFaces from **{info['name']}** ({size}) on {info['device']}.")
        with gr.Tab("Generate", id="generate-tab"):
            _generate_tab(service, downloads, info)
        with gr.Tab("Edit", id="edit-tab"):
            _edit_tab(service)
        with gr.Tab("Interpolate", id="interpolate-tab"):
            _interpolate_tab(service, downloads)
        with gr.Tab("Model", id="model-tab"):
            _model_tab(info)
    return page.queue(default_concurrency_limit=1, max_size=service.limits.max_waiting * 4)
