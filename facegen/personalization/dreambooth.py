"""DreamBooth's prior preservation: faces the base model makes under the subject photos' attributes.

Fine-tuning on a few photos of one person drifts the whole model towards that person (language drift, in the
paper's words). Training at the same time on the base model's own samples of the same class, without the
subject embedding, keeps what the model made for everyone else (Ruiz et al., 2023, eq. 2).
"""

from __future__ import annotations

import torch


def class_latents(pipe, attributes: torch.Tensor, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(latents [count, C, h, w], attributes [count, 40]): base samples, cycling through the photos' attributes."""
    chosen = attributes[torch.arange(count) % len(attributes)]
    images = pipe.generate(count, attributes=chosen, seed=seed, progress=False)
    with torch.no_grad():
        latents = pipe.autoencoder.encode(images.to(pipe.device)).float().cpu()
    return latents, chosen
