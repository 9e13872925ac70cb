"""A learned person: the subject embedding, and the weight change (none, LoRA, a full delta) that goes with it.

The embedding [D] lives in the condition embedder's space (``Condition.subject``): it is added to the attribute
vector and attended to as one more token, so the base weights need not change (textual inversion). LoRA and
DreamBooth also change the weights; the file then holds the adapter, or the fp16 difference from the base.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from facegen.personalization.files import read_tensors, write_tensors
from facegen.personalization.lora import LoraSpec, merged

SUBJECT_FORMAT = "facegen-subject-1"
METHODS = ("textual-inversion", "lora", "dreambooth")


def base_fingerprint(net: nn.Module) -> str:
    """sha256 of a base model's weights (names, shapes and float32 values): what a subject was trained on."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(f"{name}{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


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
        if fingerprint != self.base_sha256:
            raise ValueError(
                f"subject {self.name!r} was trained on another base model ({self.base_source}, weights sha256 "
                f"{self.base_sha256[:12]}), not {source} ({fingerprint[:12]}): load that base with it"
            )

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


def load_subject(path: str | Path) -> Subject:
    tensors, meta = read_tensors(path, SUBJECT_FORMAT)
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
