"""train.compile: the whole training loss traces as one graph (no breaks), and a compiled run trains exactly as an
eager one. Dynamo's ``eager`` backend stands in for inductor here: it checks the capture (graphs, guards, RNG)
without minutes of C++ compilation on a 2-core CPU."""

import json

import pytest
import torch

from facegen.builders import model_from_config, objective_from_config
from facegen.conditioning import Condition
from facegen.config import load_config
from facegen.training import build as build_module
from facegen.training.trainer import Trainer


def condition(kind: str, batch: int) -> Condition | None:
    if kind == "attributes":
        return Condition(attributes=torch.randint(-1, 2, (batch, 40)).float())
    if kind == "text":
        return Condition(
            text_tokens=torch.randn(batch, 5, 16),
            text_mask=torch.ones(batch, 5, dtype=torch.bool),
            text_pooled=torch.randn(batch, 16),
        )
    return None


@pytest.mark.parametrize(
    "backbone, objective, kind",
    [("dit", "rectified_flow", "attributes"), ("unet", "ddpm", "none"), ("unet", "rectified_flow", "text")],
)
def test_the_whole_training_loss_is_one_graph(backbone, objective, kind):
    overrides = [f"model.name={backbone}", "model.size=tiny", "data.image_size=16", f"objective.name={objective}"]
    overrides += [f"conditioning.type={kind}"] + (["conditioning.text_dim=16"] if kind == "text" else [])
    cfg = load_config(None, overrides)
    net, loss = model_from_config(cfg), objective_from_config(cfg).loss
    explained = torch._dynamo.explain(loss)(net, torch.randn(2, 3, 16, 16), condition(kind, 2))
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons


def test_a_compiled_run_trains_as_the_eager_one(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(build_module, "compile_options", lambda device: {"backend": "eager"})
    runs = {}
    for compiled in (False, True):
        cfg = tiny_run(f"c{compiled}", **{"train.compile": str(compiled).lower()})
        trainer = Trainer(cfg)
        assert (trainer.loss_fn == trainer.objective.loss) is not compiled
        trainer.train()
        lines = (tmp_path / f"c{compiled}" / "metrics.jsonl").read_text().splitlines()
        runs[compiled] = ([json.loads(line)["loss"] for line in lines], trainer.unwrapped.state_dict())
    assert runs[True][0] == pytest.approx(runs[False][0], rel=1e-5)
    for name, weight in runs[False][1].items():
        torch.testing.assert_close(runs[True][1][name], weight, rtol=1e-4, atol=1e-5, msg=name)
