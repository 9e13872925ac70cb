"""What does more training of the faces128 recipe buy? Fit the campaign's measured curve and extrapolate.

    python benchmarks/campaign_curve.py --picture docs/faces128_campaign_curve.png

The points are the release protocol of issue 19 (500 faces, Heun 4, CFG 2 alone, seed 0; docs/BENCHMARKS.md,
"faces128 campaign"), one row per scored checkpoint of the UNet-small recipe (batch 64, lr 6e-4, EMA 0.999), against
the faces its weights have seen since initialisation. Two fits per measure:
- saturating: y = c + a * (N / 1M)^-b, whose c is where the recipe levels off;
- log-linear over the last points: y = k + s * log2(N), the optimistic reading (no levelling off), which says how
  many faces one more step of quality would take if the recent gain per doubling held.
Add a row when a checkpoint is scored; the numbers in the docs come from this script.
"""

import argparse
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.optimize import curve_fit

from facegen.utils.images import write_image

# (faces seen, fd_face, FD_attr, what was scored)
POINTS = [
    (240_576, 0.0572, 8.62, "release 2"),
    (278_976, 0.0560, 7.96, "campaign step 600"),
    (355_776, 0.0551, 7.43, "release 3"),
    (419_776, 0.0546, 7.30, "release 4"),
    (445_632, 0.0529, 6.99, "release 5"),
    (523_392, 0.0524, 6.95, "faces128_c6 step 1,619"),
    (643_776, 0.0517, 6.62, "release 6"),
    (851_776, 0.0513, 6.38, "faces128_c8 step 3,250"),
    (931_776, 0.0512, 6.24, "release 7"),
    (1_011_776, 0.0513, 6.34, "faces128_c8 step 5,750"),
    (1_059_776, 0.0508, 6.24, "faces128_c9 step 2,000 (from release 7)"),
    (1_110_720, 0.0515, 6.19, "faces128_c9 step 2,796"),
    (1_219_776, 0.0512, 6.15, "faces128_c9 step 4,500"),
]
FLOOR_FD_FACE = 0.030  # real CelebA train vs test faces in this protocol (docs/EVALUATION.md)
LAST = 5  # points of the log-linear fit


def saturating(n, c, a, b):
    return c + a * (n / 1e6) ** (-b)


def fit(faces: np.ndarray, y: np.ndarray) -> dict:
    (c, a, b), _ = curve_fit(saturating, faces, y, p0=(y[-1] * 0.9, y[0] - y[-1], 1.0), maxfev=20000)
    slope, intercept = np.polyfit(np.log2(faces[-LAST:]), y[-LAST:], 1)
    return {"c": c, "a": a, "b": b, "per_doubling": slope, "intercept": intercept}


def faces_for(target: float, f: dict) -> float:
    """Faces the log-linear reading needs to reach ``target`` (inf if it does not go down)."""
    if f["per_doubling"] >= 0:
        return math.inf
    return 2 ** ((target - f["intercept"]) / f["per_doubling"])


def draw(faces, ys, fits, names, out, size=(900, 360)):
    """Each measure's points (dots) and saturating fit (line) against log faces seen, side by side."""
    w, h = size
    img = Image.new("RGB", (w * len(ys), h), "white")
    d = ImageDraw.Draw(img)
    d.font = ImageFont.load_default(size=14)
    lo, hi = math.log10(2e5), math.log10(1e7)
    grid = np.logspace(lo, hi, 200)
    for k, (y, f, name) in enumerate(zip(ys, fits, names)):
        x0, curve = k * w, saturating(grid, f["c"], f["a"], f["b"])
        ymin, ymax = min(y.min(), curve.min(), f["c"]) * 0.97, y.max() * 1.03
        px = lambda n: x0 + 60 + (math.log10(n) - lo) / (hi - lo) * (w - 90)  # noqa: E731
        py = lambda v: 30 + (ymax - v) / (ymax - ymin) * (h - 80)  # noqa: E731
        d.rectangle([px(2e5), py(ymax), px(1e7), py(ymin)], outline="gray")
        d.line([(px(n), py(v)) for n, v in zip(grid, curve)], fill="steelblue", width=2)
        d.line([(px(2e5), py(f["c"])), (px(1e7), py(f["c"]))], fill="lightgray", width=1)
        for n, v in zip(faces, y):
            d.ellipse([px(n) - 4, py(v) - 4, px(n) + 4, py(v) + 4], fill="black")
        for n, label in ((2.5e5, "250k"), (1e6, "1M"), (1.5e6, "1.5M"), (3e6, "3M"), (1e7, "10M")):
            d.line([(px(n), py(ymin)), (px(n), py(ymin) + 5)], fill="black")
            d.text((px(n) - 12, py(ymin) + 8), label, fill="black")
        for v in np.linspace(ymin, ymax, 5):
            d.text((x0 + 5, py(v) - 6), f"{v:.4g}", fill="black")
        d.text((x0 + 70, 4), f"{name} (500 faces, Heun 4) vs faces seen; levels off at {f['c']:.4g}", fill="black")
        d.text((px(1.2e6), h - 28), "faces seen (log)", fill="black")
    write_image(img, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--picture", help="write the curves with their fits here (PNG or JPEG)")
    args = parser.parse_args()
    faces = np.array([p[0] for p in POINTS], float)
    ys = [np.array([p[1] for p in POINTS]), np.array([p[2] for p in POINTS])]
    names = ["fd_face", "FD_attr"]
    fits = [fit(faces, y) for y in ys]
    for name, f in zip(names, fits):
        at = {n: saturating(n, f["c"], f["a"], f["b"]) for n in (1.5e6, 3e6, 1e7)}
        print(f"{name}: saturating fit levels off at {f['c']:.4f} (a {f['a']:.4f}, b {f['b']:.2f}); "
              + ", ".join(f"{n / 1e6:g}M faces {v:.4f}" for n, v in at.items()))
        print(f"  log-linear over the last {LAST} points: {f['per_doubling']:+.4f} per doubling of faces seen")
    f = fits[0]
    print(f"fd_face floor (real train vs test) {FLOOR_FD_FACE}; 2x the floor {2 * FLOOR_FD_FACE}")
    for target in (0.050, 0.045, 0.040):
        need = faces_for(target, f)
        reading = f"{need / 1e6:.3g}M faces" if need < 1e10 else "beyond 10 billion faces (flat)"
        fitted = "never" if target < f["c"] else "reached"
        print(f"fd_face {target}: saturating fit {fitted}; log-linear reading {reading}")
    if args.picture:
        draw(faces, ys, fits, names, args.picture)
        print(f"wrote {args.picture}")


if __name__ == "__main__":
    main()
