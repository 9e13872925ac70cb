"""ODE samplers against a flow whose exact solution is known in closed form.

Rectified flow from N(0, 1) to N(mu, s^2) (independent coupling) has the marginal velocity field
    v(x, t) = mu + (t s^2 - (1 - t)) / ((1 - t)^2 + t^2 s^2) * (x - t mu),
whose ODE carries each noise value x0 to exactly mu + s * x0 at t = 1.
"""

import math

import pytest
import torch

from facegen.samplers import sample_ode
from facegen.samplers.ode import shifted, time_grid

MU, S = 1.5, 0.5


def gaussian_field(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    t = t.double()
    var = (1 - t) ** 2 + t**2 * S**2
    return (MU + (t * S**2 - (1 - t)) / var * (x - t * MU)).to(x.dtype)


def error(method: str, steps: int) -> float:
    x0 = torch.linspace(-3, 3, 101, dtype=torch.float64)
    x1 = sample_ode(gaussian_field, x0, method, steps, rtol=1e-9, atol=1e-9)
    return (x1 - (MU + S * x0)).abs().max().item()


def observed_order(method: str, coarse: int, fine: int) -> float:
    return math.log(error(method, coarse) / error(method, fine)) / math.log(fine / coarse)


def test_euler_converges_at_first_order():
    assert observed_order("euler", 20, 80) == pytest.approx(1.0, abs=0.15)


def test_heun_converges_at_second_order():
    assert observed_order("heun", 10, 40) == pytest.approx(2.0, abs=0.2)
    assert error("heun", 20) < error("euler", 40) / 10  # fewer evaluations, far smaller error


def test_dopri5_is_accurate():
    assert error("dopri5", 1) < 1e-6


@pytest.mark.parametrize("method, tolerance", [("euler", 0.15), ("heun", 0.01), ("dopri5", 5e-3)])
def test_trajectory_runs_from_noise_to_result(method, tolerance):
    x0 = torch.randn(4, 3, 2, 2, dtype=torch.float64).clamp(-3, 3)
    final, states = sample_ode(gaussian_field, x0, method, steps=20, return_trajectory=True)
    assert len(states) == 21
    assert torch.equal(states[0], x0) and torch.equal(states[-1], final)
    assert torch.allclose(final, MU + S * x0, atol=tolerance)
    assert torch.equal(final, sample_ode(gaussian_field, x0, method, steps=20))


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="unknown ODE sampler 'rk4'"):
        sample_ode(gaussian_field, torch.zeros(1), "rk4")
    with pytest.raises(ValueError, match="steps must be positive"):
        sample_ode(gaussian_field, torch.zeros(1), "euler", steps=0)
    with pytest.raises(ValueError, match="time shift must be positive, got 0"):
        sample_ode(gaussian_field, torch.zeros(1), "euler", steps=2, shift=0)


def test_a_shift_of_one_is_the_even_grid_and_a_shift_moves_steps_toward_the_noise():
    assert torch.allclose(time_grid(6), torch.linspace(0, 1, 7, dtype=torch.float64))
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    assert torch.allclose(shifted(shifted(t, 3.0), 1 / 3.0), t)  # 1/s undoes s
    assert shifted(torch.tensor(0.5, dtype=torch.float64), 3.0).item() == pytest.approx(0.25)  # sigma 0.5 -> 0.75
    for shift in (0.5, 2.0, 3.0):
        grid = time_grid(6, shift=shift)
        assert grid[0] == 0 and grid[-1] == 1 and bool((grid.diff() > 0).all())
        first, last = grid[1] - grid[0], grid[-1] - grid[-2]
        assert (first < last) == (shift > 1)  # finer steps where the layout is decided when shift > 1


def test_a_shifted_grid_keeps_partial_ranges_exact_either_way():
    grid = time_grid(4, 1.0, 0.4, shift=2.0)  # inversion of strength 0.6: backwards, ends exact
    assert grid[0] == 1.0 and grid[-1] == 0.4 and bool((grid.diff() < 0).all())
    assert not torch.allclose(grid, time_grid(4, 1.0, 0.4))


@pytest.mark.parametrize("method, steps, tolerance", [("euler", 40, 0.15), ("heun", 20, 0.01)])
def test_shifted_grids_solve_the_closed_form_too(method, steps, tolerance):
    x0 = torch.linspace(-3, 3, 101, dtype=torch.float64)
    for shift in (0.5, 3.0):
        x1 = sample_ode(gaussian_field, x0, method, steps, shift=shift)
        assert torch.allclose(x1, MU + S * x0, atol=tolerance)
    states = sample_ode(gaussian_field, x0, "euler", 3, shift=3.0, return_trajectory=True)[1]
    assert len(states) == 4  # steps + 1 points, as unshifted
