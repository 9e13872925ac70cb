"""Every backbone x conditioning kind built from a config trains every parameter (DDP refuses any that get no grad)."""

import pytest
import torch

from facegen.builders import model_from_config, objective_from_config
from facegen.conditioning import Condition
from facegen.config import load_config

BACKBONES = {
    "dit": [
        "model.name=dit",
        "model.size=tiny",
        "model.patch_size=4",
        "model.depth=1",
        "model.hidden_size=32",
        "model.num_heads=2",
    ],
    "unet": ["model.name=unet", "model.size=tiny", "conditioning.dim=32"],
}
CONDITIONS = {
    "attributes": ["conditioning.type=attributes"],
    "semantic": ["conditioning.type=attributes", "conditioning.semantic_dim=8", "conditioning.semantic_dropout=0.0"],
    "text": ["conditioning.type=text", "conditioning.text_dim=12"],
}


def condition(kind: str, images: torch.Tensor) -> Condition:
    batch = len(images)
    if kind == "text":
        return Condition(
            text_tokens=torch.randn(batch, 5, 12),
            text_mask=torch.ones(batch, 5, dtype=torch.bool),
            text_pooled=torch.randn(batch, 12),
        )
    attributes = torch.randint(-1, 2, (batch, 40)).float()
    return Condition(attributes=attributes, reference=images if kind == "semantic" else None)


@pytest.mark.parametrize("kind", sorted(CONDITIONS))
@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_every_parameter_gets_a_gradient(backbone, kind):
    cfg = load_config(None, ["data.image_size=16", *BACKBONES[backbone], *CONDITIONS[kind]])
    torch.manual_seed(0)
    net = model_from_config(cfg)
    objective = objective_from_config(cfg)
    images = torch.randn(2, 3, 16, 16)
    loss = objective(net, images, condition(kind, images))
    auxiliary, parts = net.auxiliary_loss()  # the semantic encoder's KL and attribute terms; 0 for the others
    assert (sorted(parts) != []) == (kind == "semantic")
    (loss + auxiliary).backward()
    without = [name for name, p in net.named_parameters() if p.grad is None]
    assert without == []
