"""Each condition embedder says what "no condition" is; a backbone given ``cond=None`` uses exactly that."""

import pytest
import torch

from facegen.conditioning import Condition
from facegen.conditioning.attributes import AttributeEmbedder
from facegen.conditioning.semantic import SemanticEmbedder, SemanticEncoder
from facegen.conditioning.text import TextEmbedder
from facegen.models import build_model

DIM, TEXT_DIM, CODE_DIM, SIZE = 32, 12, 8, 8


def embedder(kind: str, with_tokens: bool) -> torch.nn.Module:
    if kind == "text":
        return TextEmbedder(DIM, TEXT_DIM, with_tokens=with_tokens, max_length=5)
    attributes = AttributeEmbedder(DIM)
    if kind == "attributes":
        return attributes
    return SemanticEmbedder(attributes, SemanticEncoder(3, SIZE, CODE_DIM), with_tokens=with_tokens)


def real_condition(kind: str, batch: int = 2) -> Condition:
    generator = torch.Generator().manual_seed(1)
    if kind == "text":
        mask = torch.tensor([[True] * 3 + [False] * 2, [True] * 5])
        tokens, pooled = torch.randn(batch, 5, TEXT_DIM, generator=generator), torch.randn(batch, TEXT_DIM)
        return Condition(text_tokens=tokens, text_mask=mask, text_pooled=pooled)
    # For the semantic embedder: attributes without a face (dropped() keeps a given face: that is no null condition).
    return Condition(attributes=torch.randint(-1, 2, (batch, 40), generator=generator).float())


def tiny_net(backbone: str, kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if backbone == "unet":
        net = build_model("unet", image_size=SIZE, in_channels=3, size="tiny", cond_embedder=embedder(kind, True))
    else:
        options = dict(size="tiny", patch_size=4, depth=1, hidden_size=DIM, num_heads=2)
        net = build_model("dit", image_size=SIZE, in_channels=3, cond_embedder=embedder(kind, False), **options)
    with torch.no_grad():  # the DiT starts as the zero function: move every weight so the comparisons mean something
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return net.eval()


@pytest.mark.parametrize("kind", ["attributes", "text", "semantic"])
@pytest.mark.parametrize("backbone", ["unet", "dit"])
def test_no_condition_is_the_null_condition_and_the_dropped_one(backbone, kind):
    net = tiny_net(backbone, kind)
    x, t = torch.randn(2, 3, SIZE, SIZE), torch.rand(2)
    real = real_condition(kind)
    with torch.no_grad():
        unconditional = net(x, t, None)
        assert torch.equal(unconditional, net(x, t, net.cond_embedder.null_condition(2, x.device)))
        # Equal up to rounding: the dropped condition may carry more (all masked) tokens than the null one.
        torch.testing.assert_close(unconditional, net(x, t, real.dropped()), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(unconditional, net(x, t, real), atol=1e-3)


def test_null_conditions_are_what_dropped_makes():
    attributes = AttributeEmbedder(DIM).null_condition(3, "cpu")
    assert attributes.attributes.shape == (3, 40) and not attributes.attributes.any()
    assert attributes.text_tokens is None and attributes.semantic is None

    text = TextEmbedder(DIM, TEXT_DIM, max_length=5).null_condition(2, "cpu")
    dropped = real_condition("text").dropped()
    for name in ("text_tokens", "text_mask", "text_pooled"):
        assert torch.equal(getattr(text, name), getattr(dropped, name)), name

    semantic = embedder("semantic", True).null_condition(3, "cpu")
    assert not semantic.attributes.any() and semantic.semantic.shape == (3, CODE_DIM) and not semantic.semantic.any()
