"""CLIP score: text-image alignment, 100 * cosine of CLIP embeddings, with a CLIP model from a local directory.

Matches torchmetrics' ``clip_score``: per pair 100 * cos(image, text), averaged, then max(mean, 0).
No download ever happens here: the directory must hold a transformers CLIPModel and its processor files
(e.g. ``openai/clip-vit-base-patch16`` saved with ``save_pretrained`` on a machine with internet).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def _pooled(output: Any) -> torch.Tensor:
    """transformers 4 returns the projected embedding itself, transformers 5 a ModelOutput holding it."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class ClipScorer:
    """Image embeddings as a feature extractor (uint8 -> {"features"}) and text embeddings; both unit length."""

    def __init__(self, model_dir: str | os.PathLike | None) -> None:
        if model_dir is None:
            raise ValueError(
                "clip_score needs a local CLIP model directory (clip_model=PATH): a transformers CLIPModel with its "
                "processor files, e.g. openai/clip-vit-base-patch16 saved with save_pretrained()"
            )
        path = Path(model_dir).expanduser()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"no CLIP model at {path} (expected config.json, weights and processor files)")
        from transformers import CLIPModel, CLIPProcessor  # heavy import, only when CLIP score is asked for

        self.model = CLIPModel.from_pretrained(path, local_files_only=True).eval()
        self.processor = CLIPProcessor.from_pretrained(path, local_files_only=True)
        self.max_text_length = self.model.config.text_config.max_position_embeddings
        self.id = f"clip-{path.name}"
        self.protocol: dict[str, Any] = {
            "network": f"CLIP from {path}",
            "definition": "max(100 * mean cos(image, text), 0), as torchmetrics",
            "resize": "the model's CLIPImageProcessor (resize, centre crop, CLIP normalisation)",
        }

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        pixels = self.processor.image_processor(images=list(images), return_tensors="pt")["pixel_values"]
        embeddings = _pooled(self.model.get_image_features(pixel_values=pixels))
        return {"features": torch.nn.functional.normalize(embeddings, dim=-1)}

    @torch.inference_mode()
    def text_embeddings(self, prompts: list[str], batch_size: int = 256) -> torch.Tensor:
        parts = []
        for start in range(0, len(prompts), batch_size):
            tokens = self.processor.tokenizer(
                prompts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_text_length,
                return_tensors="pt",
            )
            embeddings = _pooled(self.model.get_text_features(**tokens))
            parts.append(torch.nn.functional.normalize(embeddings, dim=-1))
        return torch.cat(parts)


def clip_score_from_embeddings(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> float:
    """max(100 * mean_i cos(image_i, text_i), 0) for unit-length embeddings paired by row."""
    if image_embeddings.shape != text_embeddings.shape:
        raise ValueError(f"need one prompt per image: {len(image_embeddings)} images, {len(text_embeddings)} prompts")
    return max(100.0 * float((image_embeddings * text_embeddings).sum(dim=-1).mean()), 0.0)
