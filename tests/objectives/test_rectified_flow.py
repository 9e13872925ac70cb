"""Rectified flow checked against exact Gaussian math (data N(mu, s^2), noise N(0, 1), 1-pixel images)."""

import pytest
import torch

from facegen.models.backbone import NO_AUXILIARY, with_auxiliary
from facegen.objectives import RectifiedFlow, build_objective

MU, S = 1.5, 0.5


def exact_velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t.view(-1, *([1] * (x.dim() - 1)))
    return MU + (t * S**2 - (1 - t)) / ((1 - t) ** 2 + t**2 * S**2) * (x - t * MU)


class Oracle(torch.nn.Module):
    """Predicts the exact velocity (or the clean image it implies), optionally with a constant bias."""

    def __init__(self, prediction: str = "velocity", bias: float = 0.0) -> None:
        super().__init__()
        self.prediction, self.bias = prediction, bias

    def forward(self, x, t, cond=None, r=None, return_aux=False):  # the backbone contract (no auxiliary terms)
        v = exact_velocity(x, t) + self.bias
        if self.prediction != "velocity":
            v = x + (1 - t.view(-1, 1, 1, 1)) * v  # the clean-image estimate implied by v
        return with_auxiliary(v, NO_AUXILIARY, return_aux)


def data(n: int = 200_000) -> torch.Tensor:
    return MU + S * torch.randn(n, 1, 1, 1, dtype=torch.float64)


def minimal_loss_uniform_t() -> float:
    """E_t Var(x1 - x0 | x_t) for t ~ U(0, 1): the loss no network can beat."""
    t = torch.linspace(0, 1, 100_001, dtype=torch.float64)
    cov, var = t * S**2 - (1 - t), (1 - t) ** 2 + t**2 * S**2
    return torch.trapezoid((1 + S**2) - cov**2 / var, t).item()


def test_interpolation_endpoints_follow_the_convention():
    noise, images = torch.randn(3, 3, 4, 4), torch.rand(3, 3, 4, 4)
    assert torch.equal(RectifiedFlow.interpolate(noise, images, torch.zeros(3)), noise)
    assert torch.equal(RectifiedFlow.interpolate(noise, images, torch.ones(3)), images)
    mid = RectifiedFlow.interpolate(noise, images, torch.full((3,), 0.25))
    assert torch.allclose(mid, 0.75 * noise + 0.25 * images)


def test_exact_field_reaches_the_irreducible_loss():
    torch.manual_seed(0)
    flow = RectifiedFlow(time_sampling="uniform")
    loss = flow(Oracle(), data()).item()
    assert loss == pytest.approx(minimal_loss_uniform_t(), rel=0.02)
    assert flow(Oracle(bias=0.3), data()).item() == pytest.approx(loss + 0.09, rel=0.05)  # + bias^2


def test_x_prediction_gives_the_same_velocity():
    x, t = torch.randn(64, 1, 1, 1, dtype=torch.float64), torch.rand(64, dtype=torch.float64) * 0.9
    v_flow = RectifiedFlow(prediction="velocity").velocity(Oracle("velocity"), x, t)
    x_flow = RectifiedFlow(prediction="x").velocity(Oracle("x"), x, t)
    assert torch.allclose(v_flow, x_flow)


def test_logit_normal_times():
    torch.manual_seed(0)
    t = RectifiedFlow(time_sampling="logit_normal", logit_mean=0.5, logit_std=0.8).sample_time(100_000)
    logits = torch.logit(t.double())
    assert 0 < t.min() and t.max() < 1
    assert logits.mean().item() == pytest.approx(0.5, abs=0.02)
    assert logits.std().item() == pytest.approx(0.8, abs=0.02)


def test_field_feeds_a_batch_of_times():
    seen = {}

    class Recorder(torch.nn.Module):
        def forward(self, x, t, cond=None):
            seen["t"] = t
            return torch.zeros_like(x)

    field = RectifiedFlow().field(Recorder())
    assert field(torch.tensor(0.3), torch.zeros(5, 3, 2, 2)).shape == (5, 3, 2, 2)
    assert seen["t"].shape == (5,) and torch.allclose(seen["t"], torch.full((5,), 0.3))


def test_bad_options_are_explained():
    with pytest.raises(ValueError, match="prediction must be"):
        RectifiedFlow(prediction="eps")
    with pytest.raises(ValueError, match="unknown objective 'ddpmm'"):
        build_objective("ddpmm")


def test_a_time_shift_moves_generation_but_not_a_photos_round_trip():
    noise = torch.linspace(-2, 2, 9, dtype=torch.float64).view(-1, 1, 1, 1)
    even, shifted = RectifiedFlow(), RectifiedFlow(time_shift=3.0)
    exact = MU + S * noise  # where the exact ODE carries each noise value
    generated = {f.time_shift: f.sample(Oracle(), noise, "heun", steps=8) for f in (even, shifted)}
    assert not torch.allclose(generated[1.0], generated[3.0])
    assert (generated[3.0] - exact).abs().max() < 0.05  # still a solver of the same ODE (this Gaussian's data end
    assert (generated[1.0] - exact).abs().max() < 0.01  # is where its field bends most: the even grid is nearer)
    photos = exact
    trips = []
    for flow in (even, shifted):  # inversion to t = 0.4, then back: the same even grid both ways
        latent = flow.invert(Oracle(), photos, steps=4, strength=0.6)
        trips.append(flow.sample(Oracle(), latent, "heun", steps=4, start=0.4))
    assert torch.equal(trips[0], trips[1])
    assert (trips[1] - photos).abs().max() < 0.02
