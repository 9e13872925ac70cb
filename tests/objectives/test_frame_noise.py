"""The correlated frame-noise prior (``video.noise_correlation``, PYoCo's mixed prior): each frame stays N(0, I),
two frames of a clip correlate by the asked amount, images and c = 0 are plain ``torch.randn``, and the training
loss draws it; with ``video.noise_shift`` the shared part moves across the frames (warped noise)."""

import pytest
import torch

from facegen.objectives import build_objective


def frame_correlation(noise: torch.Tensor) -> float:
    a, b = noise[:, 0].flatten(), noise[:, 1].flatten()
    return torch.corrcoef(torch.stack([a, b]))[0, 1].item()


@pytest.mark.parametrize("name", ["rectified_flow", "ddpm"])
def test_frames_stay_standard_normal_and_correlate_as_asked(name):
    objective = build_objective(name).with_frame_noise(0.8)
    noise = objective.noise((4000, 3, 2, 4, 4), generator=torch.Generator().manual_seed(0))
    assert noise.mean().abs() < 0.01 and (noise.std(dim=(0, 2, 3, 4)) - 1).abs().max() < 0.01
    assert frame_correlation(noise) == pytest.approx(0.8, abs=0.01)
    assert frame_correlation(build_objective(name).noise((4000, 3, 2, 4, 4))) == pytest.approx(0, abs=0.01)


def test_zero_correlation_and_images_are_plain_randn():
    plain = build_objective("rectified_flow")
    correlated = plain.with_frame_noise(0.9)
    assert plain.frame_correlation == 0 and correlated is not plain  # a copy: the original is unchanged
    clip, image = (2, 3, 4, 8, 8), (2, 4, 8, 8)
    expected = torch.randn(clip, generator=torch.Generator().manual_seed(5))
    assert torch.equal(plain.noise(clip, generator=torch.Generator().manual_seed(5)), expected)
    expected = torch.randn(image, generator=torch.Generator().manual_seed(5))
    assert torch.equal(correlated.noise(image, generator=torch.Generator().manual_seed(5)), expected)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        plain.with_frame_noise(1.0)


@pytest.mark.parametrize("shift", [(1, 0), (-2, 1), (0, -1)])
def test_shifted_noise_moves_by_the_shift_each_frame(shift):
    objective = build_objective("rectified_flow").with_frame_noise(0.8, shift)
    noise = objective.noise((2000, 4, 2, 6, 6), generator=torch.Generator().manual_seed(1))
    assert noise.mean().abs() < 0.01 and (noise.std(dim=(0, 2, 3, 4)) - 1).abs().max() < 0.01  # still N(0, I)
    dx, dy = shift
    # frame k + 1 at (y, x) is frame k at (y - dy, x - dx): correlated by c there, not where it stood
    moved = torch.roll(noise[:, :-1], shifts=(dy, dx), dims=(-2, -1))[..., 2:-2, 2:-2]
    later = noise[:, 1:, ..., 2:-2, 2:-2]
    assert torch.corrcoef(torch.stack([moved.flatten(), later.flatten()]))[0, 1] == pytest.approx(0.8, abs=0.01)
    in_place = torch.corrcoef(torch.stack([noise[:, :-1, ..., 2:-2, 2:-2].flatten(), later.flatten()]))[0, 1]
    assert in_place.abs() < 0.02
    # the frames' shared part is one draw: exactly the same values, moved
    exact = build_objective("rectified_flow").with_frame_noise(0.5, shift)._clip_draw((2, 3, 1, 9, 9))
    two_frames_on = torch.roll(exact[:, 0], (2 * dy, 2 * dx), (-2, -1))
    assert torch.equal(two_frames_on[..., 4:-4, 4:-4], exact[:, 2, ..., 4:-4, 4:-4])


def test_no_shift_keeps_the_draws_of_the_still_prior():
    objective = build_objective("rectified_flow").with_frame_noise(0.6)
    generator = torch.Generator().manual_seed(3)
    own, shared = torch.randn((2, 3, 1, 4, 4), generator=generator), torch.randn((2, 1, 1, 4, 4), generator=generator)
    expected = 0.6**0.5 * shared + 0.4**0.5 * own
    assert torch.allclose(objective.noise((2, 3, 1, 4, 4), generator=torch.Generator().manual_seed(3)), expected)


class Recorder(torch.nn.Module):
    """A net that keeps what it was asked about and predicts zero."""

    def forward(self, x, t, cond=None, r=None, return_aux=False):
        self.x, self.t = x, t
        return torch.zeros_like(x), 0.0, {}


def test_the_training_loss_draws_correlated_frames():
    objective, net = build_objective("rectified_flow").with_frame_noise(0.7), Recorder()
    torch.manual_seed(0)
    objective.loss(net, torch.zeros(3000, 2, 1, 2, 2))
    noise = net.x / (1 - net.t).view(-1, 1, 1, 1, 1)  # data is zero: x_t = (1 - t) * noise
    assert frame_correlation(noise) == pytest.approx(0.7, abs=0.03)


def test_a_given_first_frame_is_clean_and_not_scored():
    """video.given_first_frame: frame 0 of the chosen clips enters at t = 1 (the data itself) and its output does
    not count; the other frames share the clip's time and are scored as before."""
    objective = build_objective("rectified_flow").with_given_first_frame(1.0)
    images = torch.randn(3, 4, 2, 8, 8)
    seen = {}

    def net(x, t, cond=None, return_aux=False, loud_first=False):
        seen["x"], seen["t"] = x, t
        out = torch.zeros_like(x)
        if loud_first:
            out[:, 0] = 1e3
        return out, 0.0, {}

    torch.manual_seed(0)
    quiet = objective.loss(net, images)
    assert torch.equal(seen["x"][:, 0], images[:, 0]) and torch.all(seen["t"][:, 0] == 1)
    assert torch.all(seen["t"][:, 1:] == seen["t"][:, 1:2]) and torch.all(seen["t"][:, 1:] < 1)
    torch.manual_seed(0)
    assert objective.loss(lambda *a, **k: net(*a, **k, loud_first=True), images) == quiet
    torch.manual_seed(0)  # nothing given: frame 0 is noised and scored like the rest
    plain = build_objective("rectified_flow").loss(lambda *a, **k: net(*a, **k, loud_first=True), images)
    assert plain > 1e4 and seen["t"].shape == (3,)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        objective.with_given_first_frame(1.5)
