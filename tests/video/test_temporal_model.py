"""The video backbone: exactly the image model per frame at initialisation, clip shapes, what trains."""

import copy

import pytest
import torch

from facegen.config import ConfigError, load_config
from facegen.models import build_model
from facegen.models.temporal import TEMPORAL_KINDS, TemporalBlock, TemporalMixer, VideoBackbone
from facegen.specs import backbone_spec

BACKBONES = [
    ("dit", dict(size="tiny", depth=2, hidden_size=64, num_heads=2, patch_size=4)),
    ("unet", dict(size="tiny")),
]


def perturbed(name, options, seed=0):
    """An image backbone whose weights are not the (partly zero) initialisation: its output depends on them."""
    torch.manual_seed(seed)
    net = build_model(name, image_size=16, in_channels=3, **options)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


@pytest.mark.parametrize("kind", TEMPORAL_KINDS)
@pytest.mark.parametrize("name,options", BACKBONES)
def test_untrained_video_model_is_the_image_model_per_frame_exactly(name, options, kind):
    image = perturbed(name, options)
    video = VideoBackbone(copy.deepcopy(image), backbone_spec(name).temporal, frames=4, kind=kind)
    x, t = torch.randn(2, 4, 3, 16, 16), torch.rand(2)
    expected = image(x.flatten(0, 1), t.repeat_interleave(4)).unflatten(0, (2, 4))
    out = video(x, t)
    assert out.shape == (2, 4, 3, 16, 16)
    assert expected.abs().mean() > 0.1  # a real output, not the zero function
    assert torch.equal(out, expected)
    # the same from an image model's weights loaded into a freshly built video model
    fresh = VideoBackbone(build_model(name, image_size=16, in_channels=3, **options), backbone_spec(name).temporal, 4)
    fresh.load_initial_weights(image.state_dict())
    assert torch.equal(fresh(x, t), expected)


@pytest.mark.parametrize("name,options", BACKBONES)
def test_times_may_be_per_frame(name, options):
    image = perturbed(name, options)
    video = VideoBackbone(copy.deepcopy(image), backbone_spec(name).temporal, frames=4)
    x, t = torch.randn(2, 4, 3, 16, 16), torch.rand(2, 4)
    expected = image(x.flatten(0, 1), t.flatten()).unflatten(0, (2, 4))
    assert torch.equal(video(x, t), expected)  # each frame at its own time
    clip_t = t[:, 0]
    assert torch.equal(video(x, clip_t), video(x, clip_t[:, None].repeat(1, 4)))
    with pytest.raises(ValueError, match=r"per clip \[2\] or per frame \[2, 4\]"):
        video(x, torch.rand(8))


@pytest.mark.parametrize("name,options", BACKBONES)
def test_mixers_follow_exactly_the_blocks_the_spec_lists(name, options):
    video = VideoBackbone(perturbed(name, options), backbone_spec(name).temporal, frames=3)
    wrapped = [n for n, m in video.image.named_modules() if isinstance(m, TemporalBlock)]
    assert wrapped == video.site_names and wrapped
    if name == "dit":
        assert wrapped == ["blocks.0", "blocks.1"]
    else:
        assert all(".resnets." in n for n in wrapped) and any("mid_block" in n for n in wrapped)
    trainable = {id(p) for p in video.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in video.temporal_parameters()}


def test_alpha_blends_spatial_and_temporal_and_mixes_only_within_a_clip():
    video = VideoBackbone(perturbed(*BACKBONES[0]), backbone_spec("dit").temporal, frames=4)
    mixer = video.image.get_submodule("blocks.0").mixer
    with torch.no_grad():
        torch.nn.init.normal_(mixer.out.weight, std=0.5)
    x, t = torch.randn(2, 4, 3, 16, 16), torch.rand(2)
    both = video(x, t)
    x2 = x.clone()
    x2[1] += 1.0  # another second clip: the first clip's frames must not change
    assert torch.equal(video(x2, t)[0], both[0])
    x3 = x.clone()
    x3[0, 3] += 1.0  # another last frame: the clip's first frame changes (the frames are mixed)
    assert not torch.allclose(video(x3, t)[0, 0], both[0, 0])
    with torch.no_grad():
        mixer.alpha_logit.fill_(30.0)  # alpha = 1: the spatial output alone
        video.image.get_submodule("blocks.1").mixer.alpha_logit.fill_(30.0)
    assert (mixer.alpha - 1).abs() < 1e-6
    assert torch.allclose(video(x3, t)[0, 0], video(x, t)[0, 0], atol=1e-5)  # no mixing left


@pytest.mark.parametrize("layout", ["maps", "tokens"])
@pytest.mark.parametrize("kind", TEMPORAL_KINDS)
def test_only_conv3d_carries_a_position_to_its_neighbours_in_the_next_frame(kind, layout):
    torch.manual_seed(0)
    mixer = TemporalMixer(width=32, layout=layout, frames=3, kind=kind)
    with torch.no_grad():
        torch.nn.init.normal_(mixer.out.weight, std=0.5)
    maps = torch.randn(6, 32, 5, 5)  # 2 clips of 3 frames, 5x5 positions

    def mix(m):
        out = mixer(m if layout == "maps" else m.flatten(2).transpose(1, 2))
        return out if layout == "maps" else out.transpose(1, 2).unflatten(2, (5, 5))

    changed = maps.clone()
    changed[0, :, 2, 2] += 3.0 * torch.randn(32)  # one position of the first clip's first frame
    delta = (mix(changed) - mix(maps)).abs().amax(dim=1)  # [frames, 5, 5]
    assert delta[1, 2, 2] > 1e-3  # every kind mixes a position with itself in the next frame
    assert delta[3:].max() == 0  # and never across clips
    sideways = delta[1, 2, 3]  # the neighbouring position of the next frame: where a pan moves the content
    assert (sideways > 1e-3) if kind == "conv3d" else (sideways == 0)


def test_conv3d_on_tokens_needs_a_square_grid():
    mixer = TemporalMixer(width=32, layout="tokens", frames=2, kind="conv3d")
    with pytest.raises(ValueError, match="square token grid, got 6 tokens"):
        mixer(torch.randn(2, 6, 32))


def test_video_model_refuses_other_clip_shapes():
    video = VideoBackbone(perturbed(*BACKBONES[0]), backbone_spec("dit").temporal, frames=4)
    with pytest.raises(ValueError, match=r"clips \[B, 4, 3, 16, 16\]"):
        video(torch.randn(2, 5, 3, 16, 16), torch.rand(2))
    with pytest.raises(ValueError, match=r"clips"):
        video(torch.randn(8, 3, 16, 16), torch.rand(8))


def test_weights_do_not_depend_on_the_frame_count():
    spec = backbone_spec("dit").temporal
    eight = VideoBackbone(perturbed(*BACKBONES[0]), spec, frames=8)
    sixteen = VideoBackbone(perturbed(*BACKBONES[0], seed=1), spec, frames=16)
    sixteen.load_state_dict(eight.state_dict())
    assert sixteen(torch.randn(1, 16, 3, 16, 16), torch.rand(1)).shape == (1, 16, 3, 16, 16)


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["video.frames=1"], "video.frames"),
        (["video.frames=8", "video.temporal=lstm"], "video.temporal"),
        (["video.frames=8", "video.alpha_init=1"], "video.alpha_init"),
        (["video.frames=8", "conditioning.type=text"], "video.frames"),
        (["video.frames=8", "eval.every=100"], "eval.every"),
        (["video.frames=8", "video.clips=videos"], "video.videos"),
        (["video.frames=8"], "video.train_spatial=false"),  # frozen spatial weights need an image model to start from
        (["video.frames=8", "video.train_spatial=true", "video.given_first_frame=1.5"], "video.given_first_frame"),
        (
            ["video.frames=8", "video.train_spatial=true", "video.given_first_frame=0.5", "objective.name=ddpm"],
            "video.given_first_frame",
        ),
    ],
)
def test_video_config_errors_name_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, overrides)


def test_video_is_off_by_default():
    cfg = load_config(None, [])
    assert cfg.video.frames is None
