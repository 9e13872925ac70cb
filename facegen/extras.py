"""Optional dependencies: which ``pip install "facegen[EXTRA]"`` brings each module (the extras of pyproject.toml).

The command line checks an extra before working (:func:`require`), and its error handler turns any
``ModuleNotFoundError`` of these modules into the same one line (:func:`missing_module_line`).
"""

from __future__ import annotations

import importlib.util

# top-level module -> the extra that installs it
EXTRAS = {
    "peft": "personalize",
    "gradio": "app",
    "fastapi": "app",
    "uvicorn": "app",
    "multipart": "app",  # python-multipart: form uploads
    "dlib": "faces",  # dlib-bin
    "face_recognition_models": "faces",
    "imageio": "video",
    "imageio_ffmpeg": "video",
    "playwright": "dev",
    "hypothesis": "dev",
    "httpx": "dev",
    "psutil": "dev",
}


def install_command(extra: str) -> str:
    return f'pip install "facegen[{extra}]"'


def modules_of(extra: str) -> list[str]:
    return [module for module, owner in EXTRAS.items() if owner == extra]


def require(extra: str, what: str) -> None:
    """Raise ``ModuleNotFoundError`` (one line naming the module and the install command) if a module of ``extra``
    is missing; ``what`` says which command or option needs it."""
    for module in modules_of(extra):
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(
                f"{what} needs {module}, which is not installed: {install_command(extra)}", name=module
            )


def missing_module_line(err: ImportError) -> str | None:
    """The one line for a missing optional module, or None when ``err`` is about another module."""
    module = (err.name or "").partition(".")[0]
    if module not in EXTRAS:
        return None
    command = install_command(EXTRAS[module])
    return str(err) if command in str(err) else f"{module} is not installed (an optional dependency): {command}"
