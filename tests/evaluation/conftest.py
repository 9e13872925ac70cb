"""Evaluation fixtures: a private cache folder, real CelebA faces as uint8, small stand-in networks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from facegen.data import load_or_build_cache


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Image caches and reference statistics go to a fresh folder: tests never read a user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACEGEN_CACHE_DIR", str(tmp_path_factory.mktemp("facegen-cache")))
        yield


@pytest.fixture(scope="session")
def celeba_split(celeba_root: Path):
    """``split -> ImageCache`` of real CelebA at 64 px (official crop), built once per session."""
    return lambda split: load_or_build_cache("celeba", celeba_root, split, 64, 178)


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised CLIP with a 54-token character tokenizer, saved like a real one (offline)."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    out = tmp_path_factory.mktemp("tiny-clip")
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {c: i for i, c in enumerate(letters)} | {f"{c}</w>": 26 + i for i, c in enumerate(letters)}
    vocab |= {"<|startoftext|>": 52, "<|endoftext|>": 53}
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    text = dict(
        vocab_size=54,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=32,
        bos_token_id=52,
        eos_token_id=53,
        pad_token_id=53,
    )
    vision = dict(
        image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2
    )
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(out)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def random_inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dict for torch-fidelity's Inception with random values: the real path, minus the real weights."""
    from torch_fidelity import feature_extractor_inceptionv3 as module

    with pytest.MonkeyPatch.context() as patch:  # build the network without loading (or downloading) anything
        patch.setattr(module, "load_state_dict_from_url", lambda *args, **kwargs: {})
        patch.setattr(module.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        network = module.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.manual_seed(0)
    for layer in network.modules():  # He init keeps activations O(1): vanishing ones turn denormal and crawl
        if isinstance(layer, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(network.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def face_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.Tensor]:
    """Six 64x64 PNG "faces" (smooth random colour fields) and the same pixels as a uint8 tensor."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("faces")
    generator = torch.Generator().manual_seed(1)
    coarse = torch.rand(6, 3, 8, 8, generator=generator)
    images = (torch.nn.functional.interpolate(coarse, size=64, mode="bilinear") * 255).round().to(torch.uint8)
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    return folder, images


@pytest.fixture(scope="session")
def shipped_classifier_report() -> dict:
    """The sidecar JSON of the shipped attribute classifier (its measured accuracies)."""
    from facegen.evaluation.classifier import SHIPPED_WEIGHTS

    sidecar = SHIPPED_WEIGHTS.with_suffix(".json")
    if not sidecar.exists():
        pytest.skip(f"no shipped classifier at {SHIPPED_WEIGHTS} (train it with benchmarks/train_classifier.py)")
    return json.loads(sidecar.read_text())
