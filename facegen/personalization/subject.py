"""A learned person: the subject embedding, and the weight change (none, LoRA, a full delta) that goes with it.

The embedding [D] lives in the condition embedder's space (``Condition.subject``): it is added to the attribute
vector and attended to as one more token, so the base weights need not change (textual inversion). LoRA and
DreamBooth also change the weights; the file then holds the adapter, or the fp16 difference from the base.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from facegen.data.attributes import CELEBA_ATTRIBUTES
from facegen.personalization.files import Layout, read_tensors, write_tensors
from facegen.personalization.lora import PEFT_PREFIX, LoraSpec, merged, target_modules

SUBJECT_FORMAT = "facegen-subject-1"
FLOAT_DTYPES = ("F16", "F32", "BF16")
METHODS = ("textual-inversion", "lora", "dreambooth")


def base_fingerprint(net: nn.Module) -> str:
    """sha256 of a base model's weights (names, shapes and float32 values): what a subject was trained on."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(f"{name}{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def check_base(name: str, base_sha256: str, base_source: str, fingerprint: str, source: str | Path | None) -> None:
    if fingerprint != base_sha256:
        raise ValueError(
            f"subject {name!r} was trained on another base model ({base_source}, weights sha256 "
            f"{str(base_sha256)[:12]}), not {source} ({fingerprint[:12]}): load that base with it"
        )


@dataclass(frozen=True)
class Subject:
    name: str
    method: str
    embedding: torch.Tensor  # [D], D = the condition embedder's width
    base_sha256: str
    base_source: str  # where the base came from (for the refusal message)
    steps: int
    attributes: torch.Tensor  # [40] the training photos' mean attributes, as the shipped classifier read them
    lora: LoraSpec | None = None
    adapter: dict[str, torch.Tensor] = field(default_factory=dict)  # LoRA weights (peft's keys); saved in fp16
    delta: dict[str, torch.Tensor] = field(default_factory=dict)  # full fine-tuning: new - base; saved in fp16
    options: dict = field(default_factory=dict)  # how it was trained (recorded, not used)

    def check_base(self, fingerprint: str, source: str | Path | None) -> None:
        check_base(self.name, self.base_sha256, self.base_source, fingerprint, source)

    def adapt(self, net: nn.Module) -> nn.Module:
        """The base ``net`` with this subject's weight change (a new module), or ``net`` itself if it has none."""
        if self.lora is not None:
            return merged(net, self.lora, self.adapter, f"subject {self.name!r}")
        if self.delta:
            adapted = copy.deepcopy(net)
            params = dict(adapted.named_parameters())
            with torch.no_grad():
                for key, change in self.delta.items():
                    params[key].add_(change.to(params[key]))
            return adapted
        return net


def save_subject(subject: Subject, path: str | Path, overwrite: bool = False) -> Path:
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: choose another --out (or pass --overwrite)")
    tensors = {"embedding": subject.embedding.float(), "attributes": subject.attributes.float()}
    tensors |= {f"lora.{k}": v.half() for k, v in subject.adapter.items()}  # fp16 as the shipped weights
    tensors |= {f"delta.{k}": v.half() for k, v in subject.delta.items()}
    lora = subject.lora
    meta = {
        "format": SUBJECT_FORMAT,
        "name": subject.name,
        "method": subject.method,
        "base": {"sha256": subject.base_sha256, "source": subject.base_source},
        "steps": subject.steps,
        "weights": "lora" if lora else "full-delta-fp16" if subject.delta else "none",
        "lora": {"rank": lora.rank, "alpha": lora.alpha, "targets": list(lora.targets)} if lora else None,
        "options": subject.options,
    }
    write_tensors(path, tensors, meta)
    return path


def _lora_spec(meta: dict, source: str) -> LoraSpec:
    lora = meta.get("lora")
    try:
        targets, rank, alpha = tuple(lora["targets"]), lora["rank"], float(lora["alpha"])
        if not all(isinstance(t, str) for t in targets) or type(rank) is not int or not math.isfinite(alpha):
            raise TypeError
        return LoraSpec(targets, rank, alpha)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise ValueError(f"{source}: its LoRA settings {lora!r} are not a rank, an alpha and target names") from None


def expected_layout(net: nn.Module, meta: dict, source: str) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape that a subject file for ``net`` must hold, derived from its header alone, so a file
    made for another model (or a rank of 100000) is refused before anything is allocated."""
    shapes = {"embedding": (net.cond_embedder.dim,), "attributes": (len(CELEBA_ATTRIBUTES),)}
    weights = meta.get("weights")
    if weights == "lora":
        spec = _lora_spec(meta, source)
        modules = dict(net.named_modules())
        for name in target_modules(net, spec.targets):
            layer = modules[name]
            conv = isinstance(layer, nn.Conv2d)
            fan_in = layer.in_channels if conv else layer.in_features
            fan_out = layer.out_channels if conv else layer.out_features
            if spec.rank > min(fan_in, fan_out):
                raise ValueError(f"{source}: LoRA rank {spec.rank} is over {min(fan_in, fan_out)}, the size of {name}")
            kernel = tuple(layer.kernel_size) if conv else ()
            shapes[f"lora.{PEFT_PREFIX}{name}.lora_A.weight"] = (spec.rank, fan_in, *kernel)
            shapes[f"lora.{PEFT_PREFIX}{name}.lora_B.weight"] = (fan_out, spec.rank, *((1, 1) if conv else ()))
    elif weights == "full-delta-fp16":
        shapes |= {f"delta.{k}": tuple(p.shape) for k, p in net.named_parameters()}
    elif weights != "none":
        raise ValueError(f"{source}: unknown weights {weights!r} (none, lora, full-delta-fp16)")
    return shapes


def _check_header(net: nn.Module, base_source: str | Path | None, source: str):
    def check(layout: Layout, meta: dict) -> None:
        base = meta.get("base") if isinstance(meta.get("base"), dict) else {}
        check_base(meta.get("name"), base.get("sha256"), base.get("source"), base_fingerprint(net), base_source)
        expected = expected_layout(net, meta, source)
        for name in sorted(set(layout) | set(expected)):
            found = layout.get(name, (None, None))
            if found[1] != expected.get(name) or found[0] not in FLOAT_DTYPES:
                raise ValueError(
                    f"{source}: tensor {name} is {found[0]} {found[1]}, expected {expected.get(name)} in "
                    f"{'/'.join(FLOAT_DTYPES)} for this base model (made for another model, or damaged)"
                )

    return check


def load_subject(path: str | Path, net: nn.Module | None = None, base_source: str | Path | None = None) -> Subject:
    """A subject file; given the base ``net`` (from ``base_source``), its header is checked first: made for that
    base, and the names, shapes and dtypes that base implies, before any tensor is read."""
    check = _check_header(net, base_source, str(path)) if net is not None else None
    tensors, meta = read_tensors(path, SUBJECT_FORMAT, check)
    try:
        lora = meta["lora"]
        return Subject(
            name=meta["name"],
            method=meta["method"],
            embedding=tensors["embedding"],
            base_sha256=meta["base"]["sha256"],
            base_source=meta["base"]["source"],
            steps=meta["steps"],
            attributes=tensors["attributes"],
            lora=LoraSpec(tuple(lora["targets"]), lora["rank"], lora["alpha"]) if lora else None,
            adapter={k.removeprefix("lora."): v.float() for k, v in tensors.items() if k.startswith("lora.")},
            delta={k.removeprefix("delta."): v.float() for k, v in tensors.items() if k.startswith("delta.")},
            options=meta.get("options", {}),
        )
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: an incomplete subject file (missing {err})") from None
