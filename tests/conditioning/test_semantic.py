"""The conditional autoencoder: encoder shapes, code steering, embedding with and without a code, regularizer."""

import math

import pytest
import torch

from facegen.conditioning import Condition
from facegen.conditioning.attributes import AttributeEmbedder
from facegen.conditioning.semantic import SemanticEmbedder, SemanticEncoder


def embedder(dim: int = 8, code: int = 6, dropout: float = 0.5) -> SemanticEmbedder:
    torch.manual_seed(0)
    return SemanticEmbedder(AttributeEmbedder(dim), SemanticEncoder(3, 16, code), dropout=dropout)


@pytest.mark.parametrize("channels, size", [(3, 32), (3, 16), (32, 4), (32, 16)])
def test_encoder_maps_pixels_or_latents_to_a_posterior(channels, size):
    encoder = SemanticEncoder(channels, size, dim=12)
    mean, logvar = encoder(torch.randn(2, channels, size, size))
    assert mean.shape == logvar.shape == (2, 12)
    assert encoder.head(mean).shape == (2, 40)


def test_steer_is_the_least_change_that_makes_the_head_read_the_target():
    torch.manual_seed(0)
    encoder = SemanticEncoder(3, 16, dim=10)
    code = torch.randn(3, 10)
    target = torch.zeros(3, 40)
    target[0, [31, 15]] = torch.tensor([1.0, -1.0])  # Smiling on, Eyeglasses off
    target[1, 20] = 1.0
    steered = encoder.steer(code, target, margin=3.0)
    logits = encoder.head(steered)
    assert torch.allclose(logits[0, [31, 15]], torch.tensor([3.0, -3.0]), atol=1e-4)
    assert torch.allclose(logits[1, 20], torch.tensor(3.0), atol=1e-4)
    assert torch.equal(steered[2], code[2])  # nothing asked: the code stays
    # Least norm: the move lies in the span of the chosen head rows, i.e. it has no part the head cannot see.
    rows = encoder.head.weight[[31, 15]].detach()
    delta = (steered[0] - code[0]).detach()
    in_span = rows.T @ torch.linalg.lstsq(rows.T, delta[:, None]).solution
    assert torch.allclose(in_span[:, 0], delta, atol=1e-4)


def test_no_code_is_the_attribute_embedding_and_a_code_moves_it():
    emb = embedder().eval()
    attributes = torch.randint(-1, 2, (2, 40)).float()
    base_tokens, base_mask, base_vector = emb.base.embed(Condition(attributes=attributes))
    tokens, mask, vector = emb.embed(Condition(attributes=attributes))
    assert torch.equal(vector, base_vector) and torch.equal(tokens, base_tokens)
    zero = Condition(attributes=attributes, semantic=torch.zeros(2, 6))  # zeros = no code (dropout)
    tokens, mask, vector = emb.embed(zero)
    assert torch.equal(vector, base_vector) and tokens.shape == (2, 41, 8) and not mask[:, -1].any()
    given = Condition(attributes=attributes, semantic=torch.randn(2, 6))
    tokens, mask, vector = emb.embed(given)
    assert not torch.allclose(vector, base_vector) and mask.all()
    assert torch.equal(emb.vector(given), vector)


def test_a_reference_face_is_encoded_to_its_mean_code_at_inference():
    emb = embedder().eval()
    faces = torch.rand(2, 3, 16, 16) * 2 - 1
    attributes = torch.zeros(2, 40)
    mean = emb.encoder(faces)[0]
    by_reference = emb.vector(Condition(attributes=attributes, reference=faces))
    assert torch.allclose(by_reference, emb.vector(Condition(attributes=attributes, semantic=mean)), atol=1e-6)


def test_training_drops_codes_and_regularizes():
    emb = embedder(dropout=0.3).train()
    faces = torch.rand(4000, 3, 16, 16) * 2 - 1
    attributes = torch.zeros(4000, 40)
    attributes[:, 31] = torch.where(torch.rand(4000) < 0.5, 1.0, -1.0)  # only Smiling visible
    torch.manual_seed(1)
    (_, mask, _), (loss, parts) = emb.embed(Condition(attributes=attributes, reference=faces), return_aux=True)
    assert abs(mask[:, -1].float().mean().item() - 0.7) < 0.03
    mean, logvar = emb.encoder(faces)  # the posterior that same call regularised (the encoder draws nothing)
    kl = 0.5 * (mean.square() + logvar.exp() - 1 - logvar).sum(-1).mean()
    logits = emb.encoder.head(mean)[:, 31]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, (attributes[:, 31] > 0).float())
    assert torch.allclose(parts["semantic_kl"], kl) and torch.allclose(parts["semantic_attr_bce"], bce, atol=1e-6)
    assert math.isclose(loss.item(), 1e-4 * kl.item() + 0.1 * bce.item(), rel_tol=1e-5)
    loss.backward()
    assert emb.encoder.head.weight.grad[31].abs().sum() > 0 and emb.encoder.head.weight.grad[0].abs().sum() == 0
    # Nothing is kept between calls: without return_aux the same forward computes no terms at all.
    assert not any(isinstance(v, torch.Tensor) for v in vars(emb).values())
    assert emb.vector(Condition(attributes=attributes[:2], reference=faces[:2]), return_aux=True)[1][0].requires_grad
    assert emb.eval().vector(Condition(attributes=attributes[:2], reference=faces[:2]), return_aux=True)[1] == (0.0, {})


def test_kl_matches_the_closed_form_for_known_gaussians():
    emb = embedder(code=6)
    loss, parts = emb.regularizer(torch.zeros(2, 6), torch.zeros(2, 6), None)  # the prior itself
    assert parts["semantic_kl"].item() == 0.0 and "semantic_attr_bce" not in parts
    sigma2 = torch.tensor(4.0)
    posterior = (torch.ones(2, 6), sigma2.log().expand(2, 6), torch.zeros(2, 40))  # nothing visible
    expected = 6 * 0.5 * (1 + sigma2 - 1 - sigma2.log())  # per dim: (mu^2 + s^2 - 1 - log s^2) / 2
    assert torch.allclose(emb.regularizer(*posterior)[1]["semantic_kl"], expected)
