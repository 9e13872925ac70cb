"""The backbone and objective specs (facegen.specs): registered once per name, torch-free, and what config
validation, the builders, `facegen models` and LoRA read instead of naming backbones or objectives."""

import dataclasses
import subprocess
import sys
from dataclasses import dataclass

import pytest

from facegen.config import BOUNDS, MODEL_SECTIONS, ConfigError, load_config
from facegen.specs import (
    BACKBONES,
    OBJECTIVES,
    BackboneSpec,
    ObjectiveSpec,
    all_samplers,
    backbone_spec,
    objective_spec,
    register_backbone,
    register_objective,
    unregister,
)
from facegen.utils.bounds import POSITIVE, Bound


def test_the_shipped_names_are_registered_in_order():
    assert list(BACKBONES) == ["dit", "unet"] and list(OBJECTIVES) == ["rectified_flow", "ddpm"]
    assert all_samplers() == ("heun", "euler", "dopri5", "ddim", "ddpm", "dpm++")
    with pytest.raises(ValueError, match="already registered"):
        register_backbone(BACKBONES["dit"])


def test_loading_a_config_imports_no_torch():
    code = "import sys, facegen.config, facegen.specs; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_config_reads_sections_bounds_and_sizes_from_the_specs():
    for name, spec in BACKBONES.items():
        assert MODEL_SECTIONS[name] is spec.options
        assert {f"model.{name}.{key}" for key in spec.bounds} <= set(BOUNDS)
    assert BOUNDS["objective.num_train_timesteps"] == objective_spec("ddpm").bounds["num_train_timesteps"]
    objective_keys = [f.name for f in dataclasses.fields(load_config().objective)]
    assert objective_keys == [
        "name",
        "prediction",
        *(f.name for s in OBJECTIVES.values() for f in dataclasses.fields(s.options)),
    ]
    with pytest.raises(ConfigError, match=r"model.size='large': unet sizes are \['tiny', 'small', 'base'\]"):
        load_config(None, ["model.name=unet", "model.size=large"])


def test_builders_read_the_spec_not_the_name():
    from facegen.builders import embedder_from_config

    dit = load_config(None, ["model.size=tiny", "conditioning.type=attributes", "conditioning.dim=7"])
    assert embedder_from_config(dit, 3, 16).dim == 192  # conditioning_width: the DiT's hidden size
    unet = load_config(None, ["model.name=unet", "model.size=tiny", "conditioning.type=attributes"])
    assert embedder_from_config(unet, 3, 16).dim == 256 and not backbone_spec("unet").vector_only


def test_lora_default_targets_are_the_specs():
    from facegen.personalization import DEFAULT_TARGETS

    assert dict(DEFAULT_TARGETS) == {name: spec.lora_targets for name, spec in BACKBONES.items()}


@dataclass
class WideOptions:
    width: int = 4
    channels: list[int] | None = None


@dataclass
class ClashingOptions:
    schedule: str = "other"  # ddpm's objective.schedule is a Literal defaulting to "linear"


@pytest.fixture
def wide():
    spec = BackboneSpec(
        name="wide", options=WideOptions, sizes=("one",), bounds={"width": POSITIVE, "channels": Bound(2)}
    )
    register_backbone(spec)
    yield spec
    unregister("wide")


def test_a_registered_backbone_is_a_config_section_at_once(wide, tmp_path):
    cfg = load_config(None, ["model.name=wide", "model.size=one", "model.wide.width=3"])
    assert cfg.model.wide == WideOptions(width=3)
    with pytest.raises(ConfigError, match=r"model.wide.width=0: must be >= 1"):
        load_config(None, ["model.name=wide", "model.size=one", "model.wide.width=0"])
    with pytest.raises(ConfigError, match=r"model.wide.channels=\[1\]: each item must be >= 2"):
        load_config(None, ["model.name=wide", "model.size=one", "model.wide.channels=[1]"])
    with pytest.raises(ConfigError, match=r"model.size='small': wide sizes are \['one'\]"):
        load_config(None, ["model.name=wide"])
    # Flat keys (model.patch_size) are the older shipped backbones' only: a new section is always nested.
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['model.width'\]"):
        load_config(None, ["model.name=wide", "model.size=one", "model.width=3"])


def test_unregistering_restores_the_shipped_shape(wide):
    assert "wide" in dataclasses.asdict(load_config())["model"]
    unregister("wide")
    assert list(dataclasses.asdict(load_config())["model"]) == ["name", "size", "grad_checkpointing", "dit", "unet"]
    register_backbone(wide)  # the fixture removes it again


def test_objectives_sharing_a_key_must_agree():
    spec = ObjectiveSpec(name="clash", options=ClashingOptions, predictions=("x",), samplers=("euler",))
    with pytest.raises(ValueError, match=r"options \['schedule'\] differ from 'ddpm'"):
        register_objective(spec)
    assert "clash" not in OBJECTIVES


def test_a_two_time_objective_needs_a_two_time_backbone(wide):
    @dataclass
    class NoOptions:
        pass

    register_objective(
        ObjectiveSpec(name="two", options=NoOptions, predictions=("u",), samplers=("euler",), two_time=True)
    )
    try:
        assert load_config(None, ["objective.name=two"]).objective.name == "two"  # the DiT takes r
        with pytest.raises(ConfigError, match="objective.name='two' trains net.*which the wide backbone does not"):
            load_config(None, ["objective.name=two", "model.name=wide", "model.size=one"])
    finally:
        unregister("two")
    with pytest.raises(ConfigError, match=r"objective.name: 'two' is not one of \['rectified_flow', 'ddpm'\]"):
        load_config(None, ["objective.name=two"])
