"""fd_face on real CelebA faces: other real faces are close, scrambled (malformed) faces are far, and the detection
rate beside it drops for faces that are no longer faces. (Blur is measured in docs/EVALUATION.md: the descriptor is
made to be robust to it, so it moves fd_face far less than malformation does.)"""

import pytest
import torch

from facegen.data import load_or_build_cache
from facegen.evaluation import evaluate, format_report_table
from facegen.evaluation.distortions import scrambled

pytest.importorskip("dlib", reason='the faces extra is not installed: pip install "facegen[faces]"')

COUNT = 48  # dlib's descriptor takes ~0.1 s a face on one core


@pytest.fixture(scope="module")
def real(celeba_root):
    """COUNT real validation faces at 128 px, uint8 [N, 3, 128, 128]."""
    cache = load_or_build_cache("celeba", celeba_root, "valid", 128, 178, max_images=COUNT)
    return torch.from_numpy(cache.images[:COUNT].copy())


def fd_face(images: torch.Tensor, celeba_root) -> dict:
    report = evaluate(images, ["fd_face"], ref="celeba:test", celeba_root=celeba_root, max_reference_images=COUNT)
    assert "face detected" in format_report_table(report)
    return report["metrics"]


def test_fd_face_ranks_real_faces_above_scrambled_ones(real, celeba_root):
    real_m, scrambled_m = (fd_face(x, celeba_root) for x in (real, scrambled(real)))
    assert real_m["fd_face"] * 1.5 < scrambled_m["fd_face"], (real_m, scrambled_m)  # 1.9x measured at 48 faces
    assert real_m["face_detected"] >= 0.8 and real_m["face_detected_real"] >= 0.8
    assert scrambled_m["face_detected"] < real_m["face_detected"]
