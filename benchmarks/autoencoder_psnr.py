"""Reconstruction PSNR and encode/decode speed of an autoencoder on real CelebA crops, printed as JSON.

    OMP_NUM_THREADS=1 python benchmarks/autoencoder_psnr.py [--autoencoder taef2] [--path DIR] [--n 128]

Crops are the first N CelebA images by file name, preprocessed as in training (``facegen.data.preprocess``:
178x178 centre crop, antialiased bicubic resize). PSNR is on [0, 1] images, the mean over images of per-image
PSNR; ``psnr_pooled_db`` (PSNR of the MSE pooled over all images) is printed alongside for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from PIL import Image

from facegen.autoencoders import build_autoencoder, psnr
from facegen.data import preprocess, to_model_range

SHARED = Path(os.environ.get("FACEGEN_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def load_crops(folder: Path, n: int, size: int) -> torch.Tensor:
    files = sorted(folder.glob("*.jpg"))[:n]
    return to_model_range(torch.stack([preprocess(Image.open(f), size) for f in files]))


def timed(fn, x: torch.Tensor) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    out = fn(x)
    return out, time.perf_counter() - start


def measure(autoencoder, images: torch.Tensor) -> dict:
    autoencoder.decode(autoencoder.encode(images[:2]))  # warm-up: first calls pay allocation costs
    latents, encode_s = timed(autoencoder.encode, images)
    recon, decode_s = timed(autoencoder.decode, latents)
    pooled_mse = ((images - recon) / 2).pow(2).mean()
    return {
        "psnr_db": round(psnr(images, recon).mean().item(), 2),
        "psnr_pooled_db": round((10 * torch.log10(1 / pooled_mse)).item(), 2),
        "latent_mean": round(latents.mean().item(), 3),
        "latent_std": round(latents.std().item(), 3),
        "encode_images_per_sec": round(len(images) / encode_s, 1),
        "decode_images_per_sec": round(len(images) / decode_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--autoencoder", default="taef2")
    parser.add_argument("--path", default=None, help="weights folder (default: the autoencoder's own default)")
    parser.add_argument("--celeba", type=Path, default=SHARED / "data" / "celeba" / "img_align_celeba")
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    args = parser.parse_args()
    if not any(args.celeba.glob("*.jpg")):
        sys.exit(f"no CelebA images found in {args.celeba} (see ../shared/README.md)")
    autoencoder = build_autoencoder(args.autoencoder, args.path)
    results = {str(size): measure(autoencoder, load_crops(args.celeba, args.n, size)) for size in args.sizes}
    report = {
        "autoencoder": autoencoder.describe(),
        "n_crops": args.n,
        "results": results,
        "device": platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
