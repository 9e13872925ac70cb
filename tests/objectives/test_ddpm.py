"""DDPM checked against closed forms: betas and abar computed here, independently of diffusers.

The oracle network knows the data is N(X0, s^2) per pixel (s = 0: a Dirac at the fixed image X0), so with
x_k = a x_0 + b eps (a = sqrt(abar_k), b = sqrt(1 - abar_k)) its exact predictions are
    E[eps | x_k] = b (x_k - a X0) / (a^2 s^2 + b^2),     E[x_0 | x_k] = X0 + a s^2 (x_k - a X0) / (a^2 s^2 + b^2),
    E[v | x_k] = a E[eps | x_k] - b E[x_0 | x_k].
"""

import math

import pytest
import torch

from facegen.conditioning import Condition
from facegen.models.backbone import NO_AUXILIARY, with_auxiliary
from facegen.objectives import DDPM, build_objective

T = 1000
X0 = torch.linspace(-0.9, 0.9, 3 * 4 * 4).view(1, 3, 4, 4)  # the one image of the Dirac data, in [-1, 1]


def alphas_cumprod(schedule: str) -> torch.Tensor:
    if schedule == "linear":
        betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    else:  # Nichol & Dhariwal (2021), eq. 17, with s = 0.008 and betas clipped at 0.999
        f = torch.cos((torch.arange(T + 1, dtype=torch.float64) / T + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0)


class Oracle(torch.nn.Module):
    def __init__(self, prediction: str, schedule: str, s: float = 0.0) -> None:
        super().__init__()
        self.prediction, self.abar, self.s = prediction, alphas_cumprod(schedule), s

    def forward(self, x, t, cond=None, r=None, return_aux=False):  # the backbone contract (no auxiliary terms)
        abar = self.abar[(t.double() * T).round().long()].view(-1, 1, 1, 1)  # the network sees t = k / T
        a, b = abar.sqrt(), (1 - abar).sqrt()
        var, r = a**2 * self.s**2 + b**2, x.double() - a * X0
        eps, x0 = b * r / var, X0 + a * self.s**2 * r / var
        return with_auxiliary(
            (eps if self.prediction == "eps" else a * eps - b * x0).to(x.dtype), NO_AUXILIARY, return_aux
        )


class Zero(torch.nn.Module):
    def forward(self, x, t, cond=None, r=None, return_aux=False):
        return with_auxiliary(torch.zeros_like(x), NO_AUXILIARY, return_aux)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_forward_noising_matches_the_closed_form(schedule):
    torch.manual_seed(0)
    x0, eps, k = torch.rand(8, 3, 4, 4) * 2 - 1, torch.randn(8, 3, 4, 4), torch.randint(0, T, (8,))
    abar = alphas_cumprod(schedule)[k].float().view(-1, 1, 1, 1)
    x_t = DDPM(schedule=schedule).noise_scheduler.add_noise(x0, eps, k)
    assert torch.allclose(x_t, abar.sqrt() * x0 + (1 - abar).sqrt() * eps, atol=1e-5)


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_the_exact_prediction_has_zero_loss(prediction, schedule):
    torch.manual_seed(0)
    ddpm, images = DDPM(prediction, schedule), X0.expand(256, -1, -1, -1)
    assert ddpm(Oracle(prediction, schedule), images).item() < 1e-8
    assert ddpm(Zero(), images).item() > 0.1
    assert ddpm(Oracle("v" if prediction == "eps" else "eps", schedule), images).item() > 0.1


def test_the_network_sees_integer_timesteps_over_t():
    torch.manual_seed(0)
    seen = []

    class Recorder(Oracle):
        def forward(self, x, t, cond=None, r=None, return_aux=False):
            seen.append(t)
            return super().forward(x, t, cond, r, return_aux)

    ddpm, net = DDPM(), Recorder("eps", "linear")
    ddpm(net, X0.expand(512, -1, -1, -1))
    assert seen[0].shape == (512,) and 0 <= seen[0].min() < 0.01 and 0.99 < seen[0].max() < 1
    assert torch.allclose(seen[0] * T, (seen[0] * T).round(), atol=1e-3)  # k / T for integer k
    ddpm.sample(net, torch.randn(2, 3, 4, 4), "ddim", steps=4)
    assert [round(t[0].item(), 6) for t in seen[1:]] == [0.999, 0.749, 0.499, 0.249]


@pytest.mark.parametrize("sampler", DDPM.samplers)
@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_every_sampler_lands_on_the_dirac_image(sampler, prediction, schedule):
    noise = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    final, states = DDPM(prediction, schedule).sample(
        Oracle(prediction, schedule), noise, sampler, steps=10, return_trajectory=True
    )
    assert len(states) == 11 and torch.equal(states[0], noise) and torch.equal(states[-1], final)
    assert torch.allclose(final, X0.expand_as(final), atol=1e-4)


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_inversion_then_sampling_reconstructs_the_images(prediction):
    ddpm, net = DDPM(prediction, "cosine"), Oracle(prediction, "cosine", s=0.5)
    z = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)).clamp(-3, 3)
    images = X0 + 0.5 * z
    latents = ddpm.invert(net, images, steps=100)
    assert torch.allclose(latents, z, atol=0.1)  # the probability-flow ODE maps X0 + s z to z
    assert torch.allclose(ddpm.sample(net, latents, "ddim", steps=100), images, atol=0.1)


def test_guidance_is_applied():
    class AttributeShift(torch.nn.Module):  # an eps that depends on the condition
        def forward(self, x, t, cond=None):
            return 0.5 * x + cond.attributes[:, :1, None, None].expand_as(x)

    ddpm, noise = DDPM(), torch.randn(2, 3, 4, 4)
    cond = Condition(attributes=torch.ones(2, 40))

    def sample(guidance: float) -> torch.Tensor:
        return ddpm.sample(AttributeShift(), noise, "ddim", steps=5, cond=cond, guidance=guidance)

    def invert(guidance: float) -> torch.Tensor:
        return ddpm.invert(AttributeShift(), noise, steps=5, cond=cond, guidance=guidance)

    assert not torch.allclose(sample(1.0), sample(3.0))
    assert not torch.allclose(invert(1.0), invert(3.0))


def test_bad_choices_are_explained():
    ddpm, noise = DDPM(), torch.randn(1, 3, 4, 4)
    supported = r"ddpm samples with one of \['ddim', 'ddpm', 'dpm\+\+'\]"
    with pytest.raises(ValueError, match=f"'euler' is a rectified_flow sampler; {supported}"):
        ddpm.sample(Zero(), noise, "euler")
    with pytest.raises(ValueError, match=f"'dpm' is an unknown sampler; {supported}"):
        ddpm.sample(Zero(), noise, "dpm")
    with pytest.raises(ValueError, match="prediction must be 'eps' or 'v'"):
        DDPM(prediction="velocity")
    with pytest.raises(ValueError, match="schedule must be 'linear' or 'cosine'"):
        DDPM(schedule="sigmoid")


def test_build_objective_passes_options():
    ddpm = build_objective("ddpm", prediction="v", schedule="cosine")
    assert isinstance(ddpm, DDPM)
    assert ddpm.noise_scheduler.config.prediction_type == "v_prediction"
    assert ddpm.noise_scheduler.config.beta_schedule == "squaredcos_cap_v2"
    assert not ddpm.noise_scheduler.config.clip_sample
