"""CLIP score with a tiny random CLIP saved offline, and the errors without a model."""

import pytest
import torch

from facegen.evaluation import evaluate
from facegen.evaluation.clip_score import ClipScorer, clip_score_from_embeddings

PROMPTS = ["a smiling woman", "a man with a beard", "blond hair", "eyeglasses"]


def test_clip_score_matches_the_clip_model_run_directly(tiny_clip_dir):
    from transformers import CLIPModel, CLIPProcessor

    images = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    report = evaluate(images.float() / 127.5 - 1, ["clip_score"], clip_model=tiny_clip_dir, prompts=PROMPTS)

    model, processor = CLIPModel.from_pretrained(tiny_clip_dir), CLIPProcessor.from_pretrained(tiny_clip_dir)
    with torch.no_grad():
        out = model(**processor(text=PROMPTS, images=list(images), return_tensors="pt", padding=True))
    expected = max(100 * torch.nn.functional.cosine_similarity(out.image_embeds, out.text_embeds).mean().item(), 0)
    assert report["metrics"]["clip_score"] == pytest.approx(expected, abs=1e-4)
    assert report["protocol"]["num_generated"] == 4 and "reference" not in report["protocol"]


def test_clip_score_is_clamped_at_zero():
    image = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    assert clip_score_from_embeddings(image, -image) == 0.0
    assert clip_score_from_embeddings(image, image) == pytest.approx(100.0)


def test_clip_score_without_a_model_says_what_is_needed(tmp_path):
    images = torch.zeros(1, 3, 64, 64)
    with pytest.raises(ValueError, match="clip_model=PATH"):
        evaluate(images, ["clip_score"], prompts=["a face"])
    with pytest.raises(FileNotFoundError, match="no CLIP model at"):
        ClipScorer(tmp_path / "absent")
    with pytest.raises(ValueError, match="prompts"):
        evaluate(images, ["clip_score"], clip_model=tmp_path)
