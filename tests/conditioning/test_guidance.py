"""Guidance in closed form: classifier-free (one batched pass), on an interval of t, and autoguidance on top."""

import torch

from facegen.conditioning import Condition, Guide, guided


def scaled(k: float):
    """A net whose prediction is k * x for a given condition and x for the dropped one."""

    def net(x, t, cond):
        given = (cond.attributes != 0).any(dim=1).view(-1, 1).to(x.dtype)
        return x * (1 + (k - 1) * given)

    return net


def test_classifier_free_guidance_is_uncond_plus_scale_times_the_difference():
    x, t, cond = torch.ones(3, 2), torch.full((3,), 0.5), Condition(attributes=torch.ones(3, 40))
    out = guided(scaled(2.0), cond, scale=3.0)(x, t)
    torch.testing.assert_close(out, x + 3.0 * (2 * x - x))


def test_autoguidance_alone_guides_away_from_the_weak_net_inside_the_window_only():
    x, cond = torch.ones(3, 2), Condition(attributes=torch.ones(3, 40))
    strong, weak = scaled(2.0), scaled(1.5)
    denoise = guided(strong, cond, scale=1.0, window=(0.2, 0.8), guide=Guide(weak, 3.0))
    torch.testing.assert_close(denoise(x, torch.full((3,), 0.5)), 1.5 * x + 3.0 * (2 * x - 1.5 * x))
    torch.testing.assert_close(denoise(x, torch.full((3,), 0.9)), 2 * x)  # outside: the net alone, one pass
    torch.testing.assert_close(guided(strong, cond, 1.0, guide=Guide(weak, 1.0))(x, torch.zeros(3)), 2 * x)


def test_autoguidance_adds_its_push_to_classifier_free_guidance():
    x, cond = torch.ones(3, 2), Condition(attributes=torch.ones(3, 40))
    strong, weak = scaled(2.0), scaled(1.5)  # cond 2x, uncond x, weak 1.5x
    out = guided(strong, cond, scale=3.0, guide=Guide(weak, 2.5))(x, torch.full((3,), 0.5))
    torch.testing.assert_close(out, 2 * x + 2.0 * (2 * x - x) + 1.5 * (2 * x - 1.5 * x))
    calls = []

    def counted(x, t, cond):
        calls.append(len(x))
        return weak(x, t, cond)

    guided(strong, cond, scale=3.0, guide=Guide(counted, 2.0))(x, torch.zeros(3))
    assert calls == [3]  # the guide sees the condition, once a step


def test_autoguidance_of_an_unconditional_model_guides_without_a_condition():
    x = torch.ones(3, 2)
    out = guided(lambda x, t, c: 2 * x, None, scale=3.0, guide=Guide(lambda x, t, c: 1.5 * x, 2.0))(x, torch.zeros(3))
    torch.testing.assert_close(out, 2 * x + (2 * x - 1.5 * x))  # CFG has nothing to drop; the guide still pushes
