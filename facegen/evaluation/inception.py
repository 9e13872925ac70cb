"""The standard FID network through torch-fidelity, with weights from a local file or the library's download.

Never falls back to random weights: without the file (and offline) it raises a RuntimeError that names the
file, where it normally comes from and where to put it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import torch
import torch_fidelity
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.utils import create_feature_extractor

from facegen.evaluation.features import file_sha256

EXTRACTOR_NAME = "inception-v3-compat"
FEATURE_LAYER = "2048"
WEIGHTS_ENV = "FACEGEN_INCEPTION_WEIGHTS"
WEIGHTS_URL = URL_INCEPTION_V3
WEIGHTS_NAME = WEIGHTS_URL.rsplit("/", 1)[-1]  # weights-inception-2015-12-05-6726825d.pth
PYTORCH_FID_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
DOWNLOAD_TIMEOUT_S = 30
RESIZE = "uint8 -> 299x299 bilinear, TensorFlow-1.x compatible (torch-fidelity), then (x - 128) / 128"


def default_weights_path() -> Path:
    """Where torch-fidelity's own download puts the file (torch hub's checkpoint folder)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def missing_weights_message(reason: str) -> str:
    return (
        f"FID/KID need the FID Inception-v3 weights ({reason}). Get '{WEIGHTS_NAME}' from {WEIGHTS_URL} "
        f"(pytorch-fid's 'pt_inception-2015-12-05-6726825d.pth' from {PYTORCH_FID_URL} ports the same network) "
        f"on a machine with internet, then either put it at "
        f"{default_weights_path()}, pass inception_weights=PATH, or set {WEIGHTS_ENV}=PATH."
    )


def _download(url: str, destination: Path) -> None:
    """Fetch to a temporary file and rename, with a timeout so an offline machine fails fast instead of hanging."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False, suffix=".partial") as handle:
            shutil.copyfileobj(response, handle)
    os.replace(handle.name, destination)


def resolve_inception_weights(path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The weights file: ``path``, else $FACEGEN_INCEPTION_WEIGHTS, else torch hub's copy (downloaded if allowed)."""
    given = path or os.environ.get(WEIGHTS_ENV)
    if given:
        given = Path(given).expanduser()
        if not given.is_file():
            raise RuntimeError(missing_weights_message(f"no file at {given}"))
        return given
    cached = default_weights_path()
    if cached.is_file():
        return cached
    if not download:
        raise RuntimeError(missing_weights_message(f"not found at {cached} and downloading is off"))
    try:
        _download(WEIGHTS_URL, cached)
    except OSError as err:  # URLError, timeouts and DNS failures are all OSErrors
        raise RuntimeError(missing_weights_message(f"download failed: {err}")) from err
    return cached


class InceptionFeatures:
    """2048-d pool features of torch-fidelity's ``inception-v3-compat`` for uint8 images of any size."""

    def __init__(self, weights: str | os.PathLike | None = None, download: bool = True) -> None:
        self.weights_path = resolve_inception_weights(weights, download)
        self.weights_sha256 = file_sha256(self.weights_path)
        self.network = create_feature_extractor(
            EXTRACTOR_NAME,
            [FEATURE_LAYER],
            cuda=False,
            feature_extractor_weights_path=str(self.weights_path),
            verbose=False,
        )
        self.id = f"{EXTRACTOR_NAME}-{self.weights_sha256[:12]}"
        self.protocol: dict[str, Any] = {
            "network": f"{EXTRACTOR_NAME} (torch-fidelity {torch_fidelity.__version__})",
            "feature_layer": FEATURE_LAYER,
            "weights_file": self.weights_path.name,
            "weights_sha256": self.weights_sha256[:12],
            "resize": RESIZE,
        }

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        (features,) = self.network(images)
        return {"features": features}
