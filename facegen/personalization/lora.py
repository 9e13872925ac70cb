"""LoRA adapters (through ``peft``) on a backbone's attention, MLP and convolution projections."""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.nn as nn

from facegen.specs import BACKBONES


class _DefaultTargets(Mapping):
    """Backbone name -> the module-name patterns (a suffix after a dot, or an fnmatch pattern) it adapts by
    default: each backbone spec's ``lora_targets`` (``facegen.specs``)."""

    def __getitem__(self, name: str) -> tuple[str, ...]:
        if name not in BACKBONES:
            raise KeyError(name)
        return BACKBONES[name].lora_targets

    def __iter__(self) -> Iterator[str]:
        return iter(BACKBONES)

    def __len__(self) -> int:
        return len(BACKBONES)


DEFAULT_TARGETS: Mapping[str, tuple[str, ...]] = _DefaultTargets()
PEFT_PREFIX = "base_model.model."  # what peft puts before a module name in an adapter's keys


@dataclass(frozen=True)
class LoraSpec:
    targets: tuple[str, ...]  # module-name patterns (see DEFAULT_TARGETS)
    rank: int = 8
    alpha: float = 8.0  # the update is scaled by alpha / rank

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {self.rank}")
        if not self.targets:
            raise ValueError("LoRA needs at least one target module pattern")


def target_modules(net: nn.Module, patterns: tuple[str, ...]) -> list[str]:
    """Full names of the Linear / Conv2d modules of ``net`` that ``patterns`` match; every pattern must match."""
    layers = [name for name, m in net.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    matched: list[str] = []
    for pattern in patterns:
        found = [n for n in layers if fnmatch.fnmatchcase(n, pattern) or fnmatch.fnmatchcase(n, f"*.{pattern}")]
        if not found:
            examples = ", ".join(sorted({n.rsplit(".", 1)[-1] for n in layers})[:12])
            raise ValueError(f"LoRA target {pattern!r} matches no layer of this model (layer names end in {examples})")
        matched += [n for n in found if n not in matched]
    return matched


def with_lora(net: nn.Module, spec: LoraSpec) -> nn.Module:
    """A copy of ``net`` with fresh adapters (zero update); only the adapters require grad."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, target_modules=target_modules(net, spec.targets))
    return get_peft_model(copy.deepcopy(net), config)


def adapter_state(model: nn.Module) -> dict[str, torch.Tensor]:
    from peft import get_peft_model_state_dict

    return {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}


def load_adapter(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    from peft import set_peft_model_state_dict

    result = set_peft_model_state_dict(model, state)
    expected = set(adapter_state(model))
    if result.unexpected_keys or expected - set(state):
        raise ValueError(f"{source}: its LoRA adapter does not fit this model (made with other targets or rank)")


def merged(net: nn.Module, spec: LoraSpec, state: dict[str, torch.Tensor], source: str) -> nn.Module:
    """A copy of ``net`` with the adapter folded into its weights: sampling costs what the base costs."""
    model = with_lora(net, spec)
    load_adapter(model, state, source)
    return model.merge_and_unload().requires_grad_(False).eval()
