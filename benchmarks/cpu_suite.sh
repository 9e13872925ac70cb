#!/usr/bin/env bash
# The CPU throughput table of docs/BENCHMARKS.md: one JSON line per setting (run on an otherwise idle machine).
set -euo pipefail
cd "$(dirname "$0")/.."
tp() { python benchmarks/train_throughput.py "$@" data.root=unused --steps 10 --warmup 2; }
export OMP_NUM_THREADS=1
tp --config configs/celeba32_tiny.yaml
tp --config configs/celeba32_tiny.yaml train.mixed_precision=fp32
tp --config configs/celeba32_tiny.yaml model.dit.patch_size=2
OMP_NUM_THREADS=2 tp --config configs/celeba32_tiny.yaml
# Latent vs pixel at the same output resolution (128x128): DiT-tiny on pixels (patch 8: 256 tokens) vs on TAEF2
# latents (16x16x32, patch 2: 64 tokens); UNet-tiny on 64x64 pixels vs on 8x8x32 latents.
tp --config configs/celeba128_ldm_dit_attr.yaml model.size=tiny train.batch_size=32 autoencoder.name=identity model.dit.patch_size=8
tp --config configs/celeba128_ldm_dit_attr.yaml model.size=tiny train.batch_size=32
tp --config configs/celeba64_unet_ddpm_attr.yaml model.size=tiny train.batch_size=32
tp --config configs/celeba64_unet_ddpm_attr.yaml model.size=tiny train.batch_size=32 autoencoder.name=taef2
# The GPU presets, for scale (a few CPU steps at batch 8).
tp --config configs/celeba64_dit_small.yaml train.batch_size=8 train.compile=false
tp --config configs/celeba64_dit_base.yaml train.batch_size=8 train.compile=false
