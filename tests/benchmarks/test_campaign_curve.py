"""benchmarks/campaign_curve.py: the fits recover known curves, and the picture is written."""

import importlib.util
import math
from pathlib import Path

import numpy as np
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "campaign_curve.py"
spec = importlib.util.spec_from_file_location("campaign_curve", SCRIPT)
curve = importlib.util.module_from_spec(spec)
spec.loader.exec_module(curve)

FACES = np.array([2e5, 3e5, 5e5, 7e5, 1e6, 1.4e6, 2e6])


def test_saturating_fit_recovers_the_level_it_approaches():
    y = curve.saturating(FACES, 0.049, 0.002, 1.0)
    f = curve.fit(FACES, y)
    assert math.isclose(f["c"], 0.049, rel_tol=1e-3) and math.isclose(f["b"], 1.0, rel_tol=1e-2)


def test_log_linear_reading_inverts_its_own_line():
    y = 0.10 - 0.002 * np.log2(FACES)  # -0.002 per doubling
    f = curve.fit(FACES, y)
    assert math.isclose(f["per_doubling"], -0.002, rel_tol=1e-6)
    assert math.isclose(curve.faces_for(0.10 - 0.002 * math.log2(8e6), f), 8e6, rel_tol=1e-6)
    assert curve.faces_for(0.0, {**f, "per_doubling": 0.001}) == math.inf  # a curve going up never gets there


def test_picture_has_one_panel_per_measure(tmp_path):
    ys = [curve.saturating(FACES, 0.05, 0.002, 1.0), curve.saturating(FACES, 6.0, 0.4, 1.2)]
    out = tmp_path / "curve.png"
    curve.draw(FACES, ys, [curve.fit(FACES, y) for y in ys], ["fd_face", "FD_attr"], out, size=(300, 200))
    assert Image.open(out).size == (600, 200)
