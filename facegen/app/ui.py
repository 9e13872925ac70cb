"""The web page (gradio): Generate, Edit, Interpolate, Animate and Model tabs over one :class:`FaceService`.

The page only turns widgets into service calls and results into pictures; every check lives in the service, and
its one-line refusals are shown on the page as gradio errors.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from facegen.app.service import ATTRIBUTE_GROUPS, BadRequest, Busy, FaceService, encode_gif, encode_png, grid_image
from facegen.pipeline import MORPH_SEED

STATES = {"any": 0, "yes": 1, "no": -1}  # the three states of an attribute, as the page names them
KEEP_FILES = 64  # downloads kept on disk per server; older ones are removed


class _Downloads:
    """Files the page offers for download, each under the name it should have on the user's disk, in one private
    folder that never holds more than KEEP_FILES of them."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="facegen-app-"))

    def write(self, data: bytes, filename: str) -> str:
        folders = sorted(self.folder.iterdir(), key=lambda f: f.stat().st_mtime)
        for old in folders[: max(0, len(folders) - KEEP_FILES + 1)]:
            shutil.rmtree(old, ignore_errors=True)
        path = Path(tempfile.mkdtemp(dir=self.folder)) / filename  # a folder each: two results may share a name
        path.write_bytes(data)
        return str(path)


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
            kind = service.pipeline.kind  # what the model takes: the controls it is offered
            prompt = gr.Textbox(label="Prompt", visible=kind.accepts_prompts, elem_id="prompt")
            controls = _attribute_controls() if kind.accepts_attributes else []
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
        return images, downloads.write(encode_png(grid_image(images)), f"faces-seed{seed_value}.png"), seed_value

    button.click(
        run,
        [prompt, seed, randomize, num_faces, steps, sampler, guidance, *controls],
        [gallery, download, seed],
        concurrency_limit=1,
    )


PRESET_WORDS = {  # the strength presets as a person reads them (values: facegen.photo_edit.PRESETS)
    "gentle": "Gentle: a lighter touch; your face changes least, the change may be faint",
    "recommended": "Recommended: the strength measured to make this change while keeping the person",
    "strong": "Strong: a clearer change; more of the face may change with it",
}


def _edit_tab(service: FaceService, downloads: _Downloads) -> None:
    names = [name for group in ATTRIBUTE_GROUPS.values() for name in group]
    with gr.Row():
        with gr.Column(scale=1):
            photo = gr.File(label="Photo of a face (PNG, JPEG, WEBP)", elem_id="photo")
            add = gr.Dropdown(names, multiselect=True, value=["Smiling"], label="Add", elem_id="add")
            remove = gr.Dropdown(names, multiselect=True, label="Remove", elem_id="remove")
            preset = gr.Radio(
                [(words, key) for key, words in PRESET_WORDS.items()],
                value="recommended",
                label="Strength",
                elem_id="preset",
            )
            button = gr.Button("Edit", variant="primary", elem_id="edit")
        with gr.Column(scale=2):
            with gr.Row(equal_height=True):
                before = gr.Image(label="Before: your photo", elem_id="before", interactive=False)
                after = gr.Image(label="After", elem_id="after", interactive=False, format="png")
            note = gr.Markdown(elem_id="edit-note")
            download = gr.File(label="Download the result", elem_id="edit-download")
            with gr.Accordion("As the model sees it (its own 128x128 face)", open=False):
                with gr.Row():
                    seen = gr.Image(label="Aligned face", elem_id="seen", height=160)
                    rebuilt = gr.Image(label="Rebuilt without a change", elem_id="rebuilt", height=160)
                    changed = gr.Image(label="Changed", elem_id="changed", height=160)

    def show(upload):
        """The uploaded photo, as soon as it arrives (nothing for a file that is not a picture: Edit says why)."""
        if upload is None:
            return None
        try:
            return service.read_image(Path(upload).read_bytes(), Path(upload).name)
        except BadRequest:
            return None

    def run(upload, add_names, remove_names, preset_name, progress=gr.Progress()):
        if upload is None:
            raise gr.Error("upload a photo first", print_exception=False)
        path = Path(upload)
        progress(0, desc="editing")
        with open(path, "rb") as handle:  # never more than the limit in memory: read_image refuses the rest
            data = handle.read(service.limits.max_upload_bytes + 1)
        image = _run(service.read_image, data, path.name)
        changes = _changes(add_names, remove_names)
        result = _run(service.edit, image, changes, preset=preset_name, name=path.name)
        pictures = result.pictures()
        after_picture = pictures.get("pasted", pictures["edited"])
        settings = f"strength {result.report['strength']:.2f}, guidance {result.report['cfg_scale']:g}"
        return (
            result.photo,
            after_picture,
            f"*{result.note}; {settings}*",
            downloads.write(encode_png(after_picture), result.filename),
            pictures["input"],
            pictures["reconstruction"],
            pictures["edited"],
        )

    photo.change(show, [photo], [before])
    button.click(
        run,
        [photo, add, remove, preset],
        [before, after, note, download, seen, rebuilt, changed],
        concurrency_limit=1,
        api_name="edit_photo",
    )


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
            strip = gr.Image(label="Frames", elem_id="strip", interactive=False)  # one picture: it fits the column

    def run(a, b, from_text, to_text, n, progress=gr.Progress()):
        progress(0, desc="interpolating")
        images = _run(service.interpolate, from_text or None, to_text or None, (a, b), n)
        return downloads.write(encode_gif(images), "interpolation.gif"), grid_image(images, columns=8)

    button.click(run, [seed_a, seed_b, start, end, frames], [animation, strip], concurrency_limit=1)


def _animate_tab(service: FaceService, downloads: _Downloads) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            photo = gr.File(label="Photo of a face (optional: else a generated face)", elem_id="animate-photo")
            start = gr.Textbox(label="From attributes (no photo)", placeholder="Male=1", elem_id="animate-from")
            to = gr.Textbox(label="To", value="Smiling=1", placeholder="Smiling=1", elem_id="animate-to")
            then = gr.Textbox(label="Then (optional)", placeholder="Young=0", elem_id="animate-then")
            seeds = gr.Textbox(
                label="Or seeds (no photo, no To)",
                placeholder="1,2,3",
                info="from one face to the next",
                elem_id="animate-seeds",
            )
            with gr.Row():
                frames = gr.Slider(2, service.limits.max_animation_frames, value=16, step=1, label="Frames")
                fps = gr.Slider(1, 30, value=12, step=1, label="Frames per second")
            paste_back = gr.Checkbox(label="Show the whole photo (paste the face back)", elem_id="animate-paste")
            button = gr.Button("Animate", variant="primary", elem_id="animate")
        with gr.Column(scale=2):
            video = gr.Video(label="Animation", elem_id="animation-video", interactive=False, autoplay=True, loop=True)
            note = gr.Markdown(elem_id="animate-note")
            download = gr.File(label="Download the video (MP4)", elem_id="animate-download")

    def run(upload, start_text, to_text, then_text, seeds_text, n, rate, paste, progress=gr.Progress()):
        progress(0, desc="animating")
        image = None
        if upload is not None:
            path = Path(upload)
            with open(path, "rb") as handle:  # never more than the limit in memory: read_image refuses the rest
                image = _run(service.read_image, handle.read(service.limits.max_upload_bytes + 1), path.name)
        if then_text and not to_text:
            raise gr.Error("Then needs To first (the first change)", print_exception=False)
        keyframes = [text for text in (to_text, then_text) if text]
        if seeds_text and image is None and not start_text:
            keyframes = []  # seeds alone: the To box's default does not apply
        clip = _run(
            service.animate, image, keyframes, start_text or None, seeds_text or None, n, rate, paste_back=paste
        )
        path = downloads.write(clip.encode(".mp4"), "animation.mp4")
        made = f"*{len(clip.frames)} frames at {clip.fps} fps ({clip.duration:.1f} s); {clip.report['seconds']} s*"
        return path, made, path

    button.click(
        run,
        [photo, start, to, then, seeds, frames, fps, paste_back],
        [video, note, download],
        concurrency_limit=1,
        api_name="animate",
    )


def _model_tab(info: dict[str, Any]) -> None:
    rows = "\n".join(
        f"| {key} | {info[key]} |"
        for key in ("name", "device", "image_size", "conditioning", "objective", "sampler", "steps", "cfg_scale")
    )
    table = f"| setting | value |\n|---|---|\n| parameters | {info['parameters_m']} M |\n{rows}"
    gr.Markdown(table, elem_id="model-info")
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
            _edit_tab(service, downloads)
        with gr.Tab("Interpolate", id="interpolate-tab"):
            _interpolate_tab(service, downloads)
        with gr.Tab("Animate", id="animate-tab"):
            _animate_tab(service, downloads)
        with gr.Tab("Model", id="model-tab"):
            _model_tab(info)
    return page.queue(default_concurrency_limit=1, max_size=service.limits.max_waiting * 4)
