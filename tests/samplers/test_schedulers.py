"""Scheduler samplers against Gaussian data, whose exact denoiser is known in closed form.

For data N(mu, s^2) per pixel and x_k = a x_0 + b eps (a = sqrt(abar_k), b = sqrt(1 - abar_k)):
    E[eps | x_k] = b (x_k - a mu) / (a^2 s^2 + b^2),     E[x_0 | x_k] = mu + a s^2 (x_k - a mu) / (a^2 s^2 + b^2),
and the probability-flow ODE carries the noise z (at the last timestep, where a ~ 0) to mu + s z.
"""

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

from facegen.samplers import SCHEDULER_SAMPLERS, invert_ddim, make_scheduler, sample_scheduler

MU, S = 0.3, 0.5


def train_config(prediction: str = "epsilon", schedule: str = "linear"):
    return DDPMScheduler(beta_schedule=schedule, prediction_type=prediction, clip_sample=False).config


def oracle(config, s: float = S):
    """model_fn giving the exact posterior-mean eps or v for N(MU, s^2) data (s = 0: every image is MU)."""
    abar = DDPMScheduler.from_config(config).alphas_cumprod.double()

    def model_fn(x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        a, b = abar[timesteps].sqrt().view(-1, 1, 1, 1), (1 - abar[timesteps]).sqrt().view(-1, 1, 1, 1)
        var, r = a**2 * s**2 + b**2, x.double() - a * MU
        eps, x0 = b * r / var, MU + a * s**2 * r / var
        return (eps if config.prediction_type == "epsilon" else a * eps - b * x0).to(x.dtype)

    return model_fn


def noise(seed: int = 0) -> torch.Tensor:
    return torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(seed)).clamp(-3, 3)


def test_schedulers_inherit_the_training_config():
    config = train_config("v_prediction", "squaredcos_cap_v2")
    expected = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler, "dpm++": DPMSolverMultistepScheduler}
    for name in SCHEDULER_SAMPLERS:
        scheduler = make_scheduler(name, config)
        assert type(scheduler) is expected[name]
        assert scheduler.config.prediction_type == "v_prediction"
        assert torch.equal(scheduler.alphas_cumprod, DDPMScheduler.from_config(config).alphas_cumprod)
        scheduler.set_timesteps(10)
        assert scheduler.timesteps[0] == 999  # sampling starts where training put pure noise
    assert make_scheduler("dpm++", config).config.algorithm_type == "dpmsolver++"


@pytest.mark.parametrize("name", SCHEDULER_SAMPLERS)
def test_trajectory_runs_from_noise_to_result(name):
    config = train_config()
    z = noise()
    final, states = sample_scheduler(oracle(config), z, name, steps=8, train_config=config, return_trajectory=True)
    assert len(states) == 9
    assert torch.equal(states[0], z) and torch.equal(states[-1], final)


def test_deterministic_and_stochastic_samplers():
    config, z = train_config(), noise()

    def run(name: str, seed: int, **options) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return sample_scheduler(oracle(config), z, name, 10, train_config=config, generator=generator, **options)

    assert torch.equal(run("ddim", 0), run("ddim", 1))  # eta = 0: the generator is never drawn from
    assert torch.equal(run("ddpm", 0), run("ddpm", 0))
    assert not torch.allclose(run("ddpm", 0), run("ddpm", 1))
    assert not torch.allclose(run("ddim", 0, eta=1.0), run("ddim", 1, eta=1.0))


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("schedule", ["linear", "squaredcos_cap_v2"])
def test_deterministic_samplers_follow_the_probability_flow(prediction, schedule):
    config, z = train_config(prediction, schedule), noise()

    def error(name: str, steps: int) -> float:
        return (sample_scheduler(oracle(config), z, name, steps, train_config=config) - (MU + S * z)).abs().max().item()

    assert error("ddim", 100) < 0.05
    assert error("ddim", 100) < error("ddim", 25) / 3  # first order
    assert error("dpm++", 50) < 0.01  # second order: far fewer steps for the same accuracy
    assert error("dpm++", 25) < error("ddim", 25) / 3


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("schedule", ["linear", "squaredcos_cap_v2"])
def test_ddim_inversion_recovers_the_noise_and_the_image(prediction, schedule):
    config, z = train_config(prediction, schedule), noise()
    images, model_fn = MU + S * z, oracle(config)

    def errors(steps: int) -> tuple[float, float]:
        latents = invert_ddim(model_fn, images, steps, config)
        reconstruction = sample_scheduler(model_fn, latents, "ddim", steps, train_config=config)
        return (latents - z).abs().max().item(), (reconstruction - images).abs().max().item()

    (latent_error, error), (_, coarse_error) = errors(100), errors(25)
    assert latent_error < 0.1 and error < 0.1
    assert error < coarse_error / 3  # the round trip converges (first order) as steps grow


def test_bad_arguments_are_explained():
    config, model_fn = train_config(), oracle(train_config())
    with pytest.raises(ValueError, match="unknown scheduler sampler 'euler'"):
        sample_scheduler(model_fn, noise(), "euler", train_config=config)
    with pytest.raises(ValueError, match="eta applies only to the ddim sampler"):
        sample_scheduler(model_fn, noise(), "ddpm", eta=0.5, train_config=config)
    with pytest.raises(ValueError, match="steps must be positive"):
        sample_scheduler(model_fn, noise(), "ddim", steps=0, train_config=config)
    with pytest.raises(ValueError, match="steps must be positive"):
        invert_ddim(model_fn, noise(), 0, config)
