"""Side-by-side recipes for the bundled 128x128 model at equal CPU time, scored by fd_face and FD_attr.

    python benchmarks/recipe_compare.py --minutes 40 --threads 1 --candidates unet unet_wide \
        --runs ~/facegen-runs/recipes --out ~/facegen-runs/recipes/results.jsonl
    python benchmarks/recipe_compare.py --candidates cont cont_cooldown --minutes 30 ...   # from the shipped model
    python benchmarks/recipe_compare.py --candidates diffusers --at-images 96000 --out ...  # equal images seen
    python benchmarks/recipe_compare.py --candidates unet unet_wide --runs ... --sheet recipes.jpg  # the faces

Each facegen candidate is ``configs/faces128.yaml`` plus its overrides, trained by facegen's own trainer for the
same wall-clock budget (constant LR after warmup unless the candidate says otherwise, so a run cut by time is a fair
snapshot), then scored on ``--num-samples`` faces (attribute rows drawn from celeba:test) against celeba:test with
the run's sampler at ``--steps`` steps and its guidance (the release protocol: Heun 4, CFG 2); DDPM runs use DDIM.
The ``cont*`` candidates continue the shipped faces128 (``train.init_from=faces128``): the leader's variants, scored
against the release they start from. The record has images/s (median of the run's log) and MFU (FLOPs of one
step counted on synthetic data / batch, times images/s, over this CPU's measured matmul peak at the run's thread
count and precision). ``diffusers`` is the plain loop a user would otherwise write: UNet2DModel + DDPMScheduler
(cosine), AdamW as in diffusers' train_unconditional example, on the same TAEF2 latents, sampled with DDIM 50 steps,
unconditional. One JSON line per candidate is appended to ``--out``.
The first comparison (2026-11-23, 8 minutes each) used ``--sampler euler --steps 10 --cfg 1 --num-samples 1000
--metrics fd_attr kid_attr``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

CONFIG = "configs/faces128.yaml"
COMMON = ["train.lr_schedule=constant", "train.sample_every=0", "train.ckpt_every=250", "train.max_steps=1000000"]
# The DiT the first comparison measured (configs/faces128.yaml was this DiT before that comparison chose the UNet)
DIT = ["model.name=dit", "model.size=tiny", "model.dit.patch_size=2", "model.dit.hidden_size=256"]
DIT += ["model.dit.depth=8", "model.dit.num_heads=4", "model.dit.mlp_dim=1024", "model.dit.rope=true"]
DIT_S2 = ["model.name=dit", "model.size=small", "model.dit.patch_size=2"]  # 384 wide, 12 deep, 6 heads
INIT = ["train.init_from=faces128"]  # continue the shipped weights (model and EMA)
CANDIDATES = {
    "dit": DIT,
    "dit_skip": [*DIT, "model.dit.long_skip=true"],
    "dit_ddpm": [*DIT, "objective.name=ddpm", "objective.prediction=eps", "objective.schedule=cosine"]
    + ["sampler.name=ddim"],
    "dit_wide": [*DIT, "model.dit.hidden_size=384", "model.dit.depth=6", "model.dit.num_heads=6"]
    + ["model.dit.mlp_dim=1536"],
    "unet": ["model.name=unet", "model.size=small"],
    "unet_wide": ["model.name=unet", "model.size=small", "model.unet.base_channels=96", "model.unet.head_dim=48"],
    # issue 19 part 2: more updates per CPU-second early on (batch 32: twice the steps at 11% fewer images/s), or
    # bigger ones (twice the learning rate)
    "unet_b32": ["model.name=unet", "model.size=small", "train.batch_size=32"],
    "unet_lr2x": ["model.name=unet", "model.size=small", "train.lr=1.2e-3"],
    "unet_b32_lr2x": ["model.name=unet", "model.size=small", "train.batch_size=32", "train.lr=1.2e-3"],
    "dit_s2": DIT_S2,
    "dit_b2": [*DIT_S2, "model.dit.hidden_size=768", "model.dit.num_heads=12", "model.dit.mlp_dim=3072"],  # DiT-B/2
    "cont": INIT,
    # cosine from 6e-4 to 0 over about the steps 36 minutes hold with four 1-thread runs on two cores
    "cont_cooldown": [*INIT, "train.lr_schedule=cosine", "train.max_steps=360"],
    "cont_batch128": [*INIT, "train.batch_size=128"],
}
CELEBA = "../shared/data/celeba"


def train_candidate(name: str, minutes: float, runs: Path, threads: int) -> None:
    from facegen.config import load_config
    from facegen.run import train

    overrides = [*COMMON, *CANDIDATES[name], f"exp_name={name}", f"train.max_minutes={minutes}"]
    cfg = load_config(CONFIG, [*overrides, f"output_dir={runs}", f"train.num_threads={threads}"])
    train(cfg)


def run_speed(run: Path) -> dict:
    """Steps and faces seen of a finished run (its scored checkpoint) and the median images/s of its log."""
    from facegen.checkpoint import load_checkpoint

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = [row for row in rows if "images_per_sec" in row]
    checkpoint = load_checkpoint(run)
    batch, step = checkpoint.config.train.batch_size, checkpoint.meta["step"]
    speed = statistics.median(row["images_per_sec"] for row in rows)
    return {"steps": step, "images_seen": step * batch, "images_per_s": round(speed, 2)}


def step_gflop_per_image(name: str) -> float:
    """FLOPs of one training step of the candidate (synthetic data, counted eagerly) per image, in GFLOP."""
    from train_throughput import SyntheticTrainer, step_flops

    from facegen.config import load_config

    with tempfile.TemporaryDirectory() as out:
        overrides = [o for o in CANDIDATES[name] if not o.startswith("train.init_from")]
        cfg = load_config(CONFIG, [*COMMON, *overrides, "exp_name=flops", f"output_dir={out}"])
        trainer = SyntheticTrainer(cfg)
        flops = step_flops(trainer)
        if trainer.prefetcher:
            trainer.prefetcher.close()
    return flops / cfg.train.batch_size / 1e9


def score_candidate(
    run: Path, metrics: list[str], num_samples: int, steps: int, sampler: str | None, cfg: float | None
) -> dict:
    """The metrics at ``steps`` sampler steps; ``sampler`` replaces a flow run's sampler (DDPM runs use DDIM)."""
    from facegen.pipeline import FacePipeline
    from facegen.scoring import score

    pipe = FacePipeline.from_checkpoint(str(run))
    if sampler:
        pipe.config.sampler.name = sampler if pipe.config.objective.name == "rectified_flow" else "ddim"
    report = score(pipe, metrics, num_samples, "celeba:test", CELEBA, steps=steps, cfg_scale=cfg, progress=False)
    return dict(report["metrics"])


def candidate_sheet(runs: Path, names: list[str], out: str, faces: int = 8, seed: int = 2026) -> None:
    """One row of ``faces`` faces per candidate at its run's default sampler settings, the same noise and
    attribute-free requests for all, so the rows differ only by the recipe."""
    from facegen.pipeline import FacePipeline
    from facegen.utils.images import grid, save_picture

    pipes = [FacePipeline.from_checkpoint(str(runs / name)) for name in names]
    rows = [pipe.generate(faces, seed=seed, progress=False).cpu() for pipe in pipes]
    save_picture(grid(torch.cat(rows), nrow=faces), out)


def diffusers_unet():
    from diffusers import UNet2DModel

    return UNet2DModel(
        sample_size=16,
        in_channels=32,
        out_channels=32,
        layers_per_block=2,
        block_out_channels=(64, 128, 192),
        down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    )


def train_diffusers(minutes: float, out: Path, batch_size: int = 64, save_every: int = 250) -> dict:
    """The plain diffusers loop on the cached latents: noise, eps-MSE, AdamW, constant LR after 100 warmup steps
    (500 in the example: the budgets here are short)."""
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    from safetensors.torch import save_file

    from facegen.builders import encoded_cache_from_config
    from facegen.config import load_config
    from facegen.utils.hardware import autocast_dtype, resolve_precision

    cfg = load_config(CONFIG)
    cache = encoded_cache_from_config(cfg)
    torch.manual_seed(0)
    unet = diffusers_unet()
    noise_scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    lr_scheduler = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=100)
    dtype = autocast_dtype(resolve_precision("auto", "cpu"))  # the same precision rule facegen's trainer uses
    out.mkdir(parents=True, exist_ok=True)
    rng, step, deadline = np.random.default_rng(0), 0, time.monotonic() + 60 * minutes
    while time.monotonic() < deadline:
        perm = rng.permutation(len(cache))
        for start in range(0, len(perm) - batch_size + 1, batch_size):
            if time.monotonic() >= deadline:
                break
            flip = torch.rand(batch_size) < 0.5
            clean = cache.batch(np.sort(perm[start : start + batch_size]), flip)["image"]
            noise = torch.randn_like(clean)
            timesteps = torch.randint(0, 1000, (batch_size,))
            noisy = noise_scheduler.add_noise(clean, noise, timesteps)
            with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                pred = unet(noisy, timesteps).sample
            loss = torch.nn.functional.mse_loss(pred.float(), noise)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            step += 1
            if step % save_every == 0:
                save_file(unet.state_dict(), str(out / f"unet_{step * batch_size:08d}.safetensors"))
    save_file(unet.state_dict(), str(out / f"unet_{step * batch_size:08d}.safetensors"))
    return {"steps": step, "images_seen": step * batch_size, "run": str(out), "loss": float(loss)}


@torch.no_grad()
def score_diffusers(out: Path, num_samples: int, at_images: int | None, ddim_steps: int = 50) -> dict:
    from diffusers import DDIMScheduler
    from safetensors.torch import load_file

    from facegen.autoencoders import build_autoencoder
    from facegen.evaluation import evaluate
    from facegen.utils.hardware import autocast_dtype, resolve_precision

    snapshots = sorted(out.glob("unet_*.safetensors"))
    seen = [int(p.stem.split("_")[1]) for p in snapshots]
    pick = len(seen) - 1 if at_images is None else int(np.argmin([abs(s - at_images) for s in seen]))
    unet = diffusers_unet()
    unet.load_state_dict(load_file(str(snapshots[pick])))
    unet.eval()
    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    scheduler.set_timesteps(ddim_steps)
    autoencoder = build_autoencoder("taef2", None)
    dtype = autocast_dtype(resolve_precision("auto", "cpu"))
    generator = torch.Generator().manual_seed(0)
    images = []
    for start in range(0, num_samples, 64):
        x = torch.randn(min(64, num_samples - start), 32, 16, 16, generator=generator)
        for t in scheduler.timesteps:
            with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                eps = unet(x, t).sample.float()
            x = scheduler.step(eps, t, x).prev_sample
        images.append(autoencoder.decode(x))
    report = evaluate(torch.cat(images), ["fd_attr", "kid_attr"], ref="celeba:test", image_size=128, celeba_root=CELEBA)
    result = {k: report["metrics"][k] for k in ("fd_attr", "kid_attr")}
    return {**result, "snapshot_images_seen": seen[pick]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", nargs="+", required=True, choices=[*CANDIDATES, "diffusers"])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--steps", type=int, default=4, help="sampler steps for scoring")
    parser.add_argument("--sampler", choices=["euler", "heun"], help="replace the run's flow sampler for scoring")
    parser.add_argument("--cfg", type=float, default=None, help="guidance scale for scoring (default: the run's)")
    parser.add_argument("--metrics", nargs="+", default=["fd_face", "fd_attr"])
    parser.add_argument("--at-images", type=int, default=None, help="diffusers: score the snapshot nearest this")
    parser.add_argument("--score-only", action="store_true", help="score existing runs without training")
    parser.add_argument("--runs", type=Path, default=Path("runs/recipes"), help="folder of the candidates' runs")
    parser.add_argument("--out", type=Path, default=Path("runs/recipes/results.jsonl"))
    parser.add_argument("--sheet", help="only draw a picture here: a row of 8 faces per candidate's run")
    args = parser.parse_args()
    if args.sheet:
        candidate_sheet(args.runs.expanduser(), args.candidates, args.sheet)
        return
    from train_throughput import measured_matmul_peak

    from facegen.utils.hardware import autocast_dtype, describe_cpu, resolve_precision

    torch.set_num_threads(args.threads)
    runs = args.runs.expanduser()
    dtype = autocast_dtype(resolve_precision("auto", "cpu")) or torch.float32
    peak = measured_matmul_peak(torch.device("cpu"), dtype)
    for name in args.candidates:
        record = {
            "candidate": name,
            "overrides": CANDIDATES.get(name),
            "minutes": args.minutes,
            "cpu": describe_cpu(),
            "threads": args.threads,
            "date": time.strftime("%Y-%m-%d"),
        }
        start = time.perf_counter()
        if name == "diffusers":
            folder = runs / "diffusers"
            if not args.score_only:
                record.update(train_diffusers(args.minutes, folder))
            record.update(score_diffusers(folder, args.num_samples, args.at_images), sampler="ddim 50 steps")
        else:
            if not args.score_only:
                train_candidate(name, args.minutes, runs, args.threads)
            record.update(run_speed(runs / name), gflop_per_image=round(step_gflop_per_image(name), 2))
            record["mfu"] = round(record["gflop_per_image"] * 1e9 * record["images_per_s"] / peak, 4)
            scores = score_candidate(runs / name, args.metrics, args.num_samples, args.steps, args.sampler, args.cfg)
            record.update(scores, sampling_steps=args.steps, num_samples=args.num_samples)
        record["total_seconds"] = round(time.perf_counter() - start, 1)
        args.out.expanduser().parent.mkdir(parents=True, exist_ok=True)
        with args.out.expanduser().open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(json.dumps(record), file=sys.stderr)


if __name__ == "__main__":
    main()
