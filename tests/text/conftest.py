"""Text fixtures: tiny randomly initialised CLIP checkpoints saved like real ones, with a hand-written tokenizer."""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from pathlib import Path

import pytest
import torch


def _write_character_tokenizer(directory: Path) -> None:
    """vocab.json + merges.txt of a character-level CLIP BPE: every lower-case letter, word-final or not."""
    letters = string.ascii_lowercase
    vocab = {c: i for i, c in enumerate(letters)} | {f"{c}</w>": 26 + i for i, c in enumerate(letters)}
    vocab |= {"<|startoftext|>": 52, "<|endoftext|>": 53}
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n")


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``kind -> directory`` holding a tiny random checkpoint of that class plus its tokenizer (built once)."""
    from transformers import (
        CLIPConfig,
        CLIPModel,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    text = {"vocab_size": 54, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    text |= {"num_attention_heads": 2, "max_position_embeddings": 40, "projection_dim": 32}
    text |= {"bos_token_id": 52, "eos_token_id": 53, "pad_token_id": 53}  # the tokenizer's ids
    vision = {"image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 64}
    vision |= {"num_hidden_layers": 1, "num_attention_heads": 2}
    builders = {
        "CLIPTextModel": lambda: CLIPTextModel(CLIPTextConfig(**text)),
        "CLIPTextModelWithProjection": lambda: CLIPTextModelWithProjection(CLIPTextConfig(**text)),
        "CLIPModel": lambda: CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=32)),
    }
    built: dict[str, Path] = {}

    def make(kind: str) -> Path:
        if kind not in built:
            directory = tmp_path_factory.mktemp(kind)
            _write_character_tokenizer(directory)
            tokenizer = CLIPTokenizer(vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"))
            tokenizer.save_pretrained(directory)
            torch.manual_seed(0)
            builders[kind]().save_pretrained(directory)
            built[kind] = directory
        return built[kind]

    return make
