"""Exported model folders (fp16, sharded, checksummed) and the registry of bundled models."""

import json

import pytest
import torch

from facegen import pretrained
from facegen.cli import main
from facegen.config import load_config
from facegen.pipeline import FacePipeline
from facegen.pretrained import export_model, load_model_folder, resolve_model_folder
from facegen.run import train
from tests.training.test_trainer import tiny_overrides


@pytest.fixture(scope="module")
def tiny_run(celeba_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    overrides = {"data.max_images": 32, "conditioning.type": "attributes", "train.max_steps": 4, "sampler.steps": 2}
    train(load_config(None, tiny_overrides(celeba_root, out, out / "cache", **overrides)))
    return out / "tiny"


def test_export_round_trips_in_fp16_with_small_shards(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "MAX_SHARD_BYTES", 256 * 1024)  # force several shards from a tiny model
    folder = export_model(tiny_run, tmp_path / "model")
    meta = json.loads((folder / "meta.json").read_text())
    assert len(meta["shards"]) > 1
    assert all((folder / s["file"]).stat().st_size <= 256 * 1024 + 4096 for s in meta["shards"])  # + header
    config, weights, _ = load_model_folder(folder)
    ema = FacePipeline.from_checkpoint(tiny_run, device="cpu").net.state_dict()
    assert set(weights) == set(ema)
    for key, value in weights.items():
        assert value.dtype == torch.float32
        assert torch.equal(value, ema[key].half().float())
    assert config.autoencoder.path is None and meta["num_parameters"] == sum(v.numel() for v in ema.values())


def test_exported_model_generates_like_the_checkpoint(tiny_run, tmp_path):
    folder = export_model(tiny_run, tmp_path / "model")
    a = FacePipeline.from_checkpoint(tiny_run, device="cpu").generate(2, seed=3, attributes="Male=1", progress=False)
    b = FacePipeline.from_pretrained(folder, device="cpu").generate(2, seed=3, attributes="Male=1", progress=False)
    assert (a - b).abs().max() < 0.05  # fp16 weights


def test_export_never_overwrites_without_the_flag(tiny_run, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_model(tiny_run, tmp_path / "model")
    assert (tmp_path / "model" / "mine.txt").read_text() == "keep"
    export_model(tiny_run, tmp_path / "model", overwrite=True)
    assert not (tmp_path / "model" / "mine.txt").exists()


def test_damaged_shard_is_named(tiny_run, tmp_path):
    folder = export_model(tiny_run, tmp_path / "model")
    shard = folder / json.loads((folder / "meta.json").read_text())["shards"][0]["file"]
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=shard.name):
        load_model_folder(folder)


def test_unknown_model_names_the_registry(tmp_path):
    with pytest.raises(FileNotFoundError, match="faces128"):
        resolve_model_folder("faces999")


def test_cli_export_then_sample_with_model(tiny_run, tmp_path, capsys):
    assert main(["export", "--checkpoint", str(tiny_run), "--out", str(tmp_path / "m")]) == 0
    assert main(["sample", "--model", str(tmp_path / "m"), "--num-samples", "2", "--out", str(tmp_path / "s")]) == 0
    assert len(list((tmp_path / "s").glob("*.png"))) >= 2


def _init_from_config(tiny_run, tmp_path, source, **extra):
    overrides = {"data.max_images": 32, "conditioning.type": "attributes", "train.init_from": source, **extra}
    root, cache = load_config(tiny_run / "config.yaml").data.root, tiny_run.parent / "cache"
    return load_config(None, tiny_overrides(root, tmp_path, cache, **overrides))


def test_init_from_starts_model_and_ema_at_the_exported_weights(tiny_run, tmp_path):
    from facegen.training.trainer import Trainer

    folder = export_model(tiny_run, tmp_path / "model")
    _, weights, meta = load_model_folder(folder)
    trainer = Trainer(_init_from_config(tiny_run, tmp_path, str(folder)))
    for module in (trainer.unwrapped, trainer.ema.module):
        state = module.state_dict()
        assert all(torch.equal(state[k], v) for k, v in weights.items())
    assert trainer.step == 0 and trainer.ema.num_updates == meta["step"]  # the average continues at full decay
    assert load_config(trainer.run_dir / "config.yaml").train.init_from == str(folder)  # the lineage is recorded


def test_init_from_refuses_a_missing_or_different_model_before_any_work(tiny_run, tmp_path, capsys):
    from facegen.config import save_config

    folder = export_model(tiny_run, tmp_path / "model")
    for source, extra, message in [
        (str(tmp_path / "nowhere"), {}, "train.init_from: no pretrained model"),
        (str(folder), {"model.dit.depth": 3}, "model.dit.depth: checkpoint 2, config 3"),
    ]:
        cfg = _init_from_config(tiny_run, tmp_path, source, **extra)
        cfg.data.cache_dir = str(tmp_path / "fresh-cache")
        save_config(cfg, tmp_path / "run.yaml")
        assert main(["train", "--config", str(tmp_path / "run.yaml")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "fresh-cache").exists()  # refused before the data cache was built
