"""One objective interface: both objectives satisfy it with the same signatures, and the one table of samplers is
what config validation, the CLI and the objectives use; sampler.eta/rtol/atol/time_shift reach the samplers."""

import inspect
from unittest import mock

import pytest
import torch

from facegen.builders import objective_from_config
from facegen.cli import build_parser
from facegen.config import ConfigError, load_config
from facegen.objective_names import ALL_SAMPLERS, OBJECTIVE_CHOICES
from facegen.objectives import DDPM, OBJECTIVES, Objective, RectifiedFlow
from facegen.samplers import ODE_SAMPLERS, SCHEDULER_SAMPLERS


def test_both_objectives_satisfy_the_protocol_with_the_same_signatures():
    assert set(OBJECTIVES) == set(OBJECTIVE_CHOICES)
    for method in ("loss", "sample", "invert"):
        signatures = {name: inspect.signature(getattr(cls, method)) for name, cls in OBJECTIVES.items()}
        assert len(set(map(str, signatures.values()))) == 1, signatures
        assert str(signatures["ddpm"]) == str(inspect.signature(getattr(Objective, method)))
    for name, cls in OBJECTIVES.items():
        objective = cls()
        assert isinstance(objective, Objective) and objective.name == name
        assert objective.samplers == OBJECTIVE_CHOICES[name]["sampler"]
        assert objective.default_sampler == objective.samplers[0]


def test_table_config_cli_and_sampler_implementations_agree():
    assert set(OBJECTIVE_CHOICES["rectified_flow"]["sampler"]) == set(ODE_SAMPLERS)
    assert set(OBJECTIVE_CHOICES["ddpm"]["sampler"]) == set(SCHEDULER_SAMPLERS)
    sample = build_parser()._subparsers._group_actions[0].choices["sample"]
    (sampler_option,) = [a for a in sample._actions if "--sampler" in a.option_strings]
    assert tuple(sampler_option.choices) == ALL_SAMPLERS
    for objective, choices in OBJECTIVE_CHOICES.items():
        for sampler in ALL_SAMPLERS:
            overrides = [f"objective.name={objective}", f"sampler.name={sampler}"]
            if sampler in choices["sampler"]:
                assert load_config(None, overrides).sampler.name == sampler
            else:
                with pytest.raises(ConfigError, match="sampler.name"):
                    load_config(None, overrides)


def test_default_sampler_runs_when_none_is_given():
    zero = lambda x, t, cond=None: torch.zeros_like(x)  # noqa: E731
    for cls in OBJECTIVES.values():
        assert cls().sample(zero, torch.randn(1, 1, 2, 2), steps=2).shape == (1, 1, 2, 2)


def test_sampler_options_reach_the_samplers():
    flow = objective_from_config(load_config(None, ["sampler.rtol=1e-3", "sampler.atol=2e-3"]))
    with mock.patch("facegen.objectives.rectified_flow.sample_ode") as ode:
        flow.sample(None, torch.zeros(1), "dopri5")
    assert ode.call_args.args[4:6] == (1e-3, 2e-3)
    shifted = objective_from_config(load_config(None, ["sampler.time_shift=2.5"]))
    with mock.patch("facegen.objectives.rectified_flow.sample_ode") as ode:
        shifted.sample(None, torch.zeros(1), "heun")
        assert ode.call_args.kwargs["shift"] == 2.5
        shifted.sample(None, torch.zeros(1), "heun", start=0.5)  # a photo's regeneration: the even grid it was
        assert ode.call_args.kwargs["shift"] == 1.0  # inverted on, walked back
        shifted.invert(None, torch.zeros(1), steps=2, strength=0.5)
        assert ode.call_args.kwargs.get("shift", 1.0) == 1.0
    with pytest.raises(ConfigError, match="sampler.time_shift"):
        load_config(None, ["sampler.time_shift=0"])
    with pytest.raises(ConfigError, match="sampler.time_shift=2: .*only for objective.name='rectified_flow'"):
        load_config(None, ["objective.name=ddpm", "sampler.time_shift=2"])

    ddpm = objective_from_config(load_config(None, ["objective.name=ddpm", "sampler.eta=0.5"]))
    with mock.patch("facegen.objectives.ddpm.sample_scheduler") as scheduler:
        ddpm.sample(None, torch.zeros(1), "ddim")
        assert scheduler.call_args.kwargs["eta"] == 0.5
        ddpm.sample(None, torch.zeros(1), "dpm++")  # eta is DDIM's: the other samplers do not take it
        assert scheduler.call_args.kwargs["eta"] == 0.0
    with pytest.raises(ConfigError, match="sampler.eta=0.5: .*only for objective.name='ddpm'"):
        load_config(None, ["sampler.eta=0.5"])
    assert isinstance(flow, RectifiedFlow) and isinstance(ddpm, DDPM)


def test_guidance_interval_guides_only_inside_it_whichever_way_time_runs():
    """Guidance (two branches in one batch) only from lo to hi of the way from noise to data; one pass elsewhere.
    Rectified flow's time runs noise -> data, DDPM's data -> noise: both read the interval the same way."""
    from facegen.conditioning import Condition

    cond = Condition(attributes=torch.ones(2, 40))
    for cls in OBJECTIVES.values():
        seen = []

        def net(x, t, c=None):
            seen.append((len(x), float(t[0])))
            return torch.zeros_like(x)

        objective = cls()
        objective.sample(net, torch.randn(2, 1, 2, 2), steps=8, cond=cond, guidance=2.0, guidance_interval=(0.5, 1))
        progress = [(n, t if cls is RectifiedFlow else 1 - t) for n, t in seen]
        assert {n for n, p in progress if p >= 0.5} == {4} and {n for n, p in progress if p < 0.5} == {2}, seen
        seen.clear()
        objective.sample(net, torch.randn(2, 1, 2, 2), steps=8, cond=cond, guidance=2.0)
        assert {n for n, _ in seen} == {4}  # no interval: guided all the way


@pytest.mark.parametrize("interval", ["[0.5,0.5]", "[-0.1,0.5]", "[0.2,1.5]", "[0.3]"])
def test_a_bad_guidance_interval_is_named(interval):
    with pytest.raises(ConfigError, match=r"sampler.guidance_interval=.*0 <= lo < hi <= 1"):
        load_config(None, [f"sampler.guidance_interval={interval}"])
