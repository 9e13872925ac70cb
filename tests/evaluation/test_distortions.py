"""The calibration distortions keep shape and dtype, and change what they say they change."""

import torch

from facegen.evaluation.distortions import blurred, scrambled


def test_scrambled_permutes_only_the_central_tiles():
    images = torch.randint(0, 256, (2, 3, 128, 128), dtype=torch.uint8)
    out = scrambled(images)
    assert out.dtype == torch.uint8 and out.shape == images.shape
    inside = (slice(None), slice(None), slice(32, 96), slice(32, 96))
    outside = torch.ones(128, 128, dtype=torch.bool)
    outside[32:96, 32:96] = False
    assert torch.equal(out[..., outside], images[..., outside])
    assert not torch.equal(out[inside], images[inside])
    assert torch.equal(out[inside].flatten(2).sort(-1).values, images[inside].flatten(2).sort(-1).values)


def test_blurred_keeps_means_and_removes_detail():
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    out = blurred(images)
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert (out.float().mean() - images.float().mean()).abs() < 2
    assert out.float().diff(dim=-1).abs().mean() < images.float().diff(dim=-1).abs().mean() / 3
