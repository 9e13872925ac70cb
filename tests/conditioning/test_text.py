import torch

from facegen.conditioning import Condition
from facegen.conditioning.text import TextEmbedder, drop_text


def caption_batch(n: int) -> Condition:
    return Condition(
        text_tokens=torch.randn(n, 5, 12), text_mask=torch.ones(n, 5, dtype=torch.bool), text_pooled=torch.randn(n, 12)
    )


def test_caption_dropout_rate_and_empty_condition():
    torch.manual_seed(0)
    dropped = drop_text(caption_batch(20_000), cfg_dropout=0.1)
    empty = ~dropped.text_mask.any(dim=1)
    assert abs(empty.float().mean().item() - 0.1) < 0.01
    assert dropped.text_tokens[empty].abs().sum() == 0 and dropped.text_pooled[empty].abs().sum() == 0
    assert dropped.text_mask[~empty].all()


def test_null_token_keeps_attention_defined_for_an_empty_prompt():
    embedder = TextEmbedder(dim=8, text_dim=12)
    tokens, mask = embedder.tokens(caption_batch(3).dropped())
    assert tokens.shape == (3, 6, 8) and mask[:, 0].all() and not mask[:, 1:].any()
    query = torch.randn(3, 1, 4, 8)  # SDPA over the visible keys must not produce NaN
    out = torch.nn.functional.scaled_dot_product_attention(
        query, tokens[:, None], tokens[:, None], attn_mask=mask[:, None, None]
    )
    assert torch.isfinite(out).all()
    assert embedder.vector(caption_batch(3)).shape == (3, 8)
