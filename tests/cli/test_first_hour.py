"""A new user's first hour (issue 20): where the data goes, what the bundled model is, threads, progress, names."""

from __future__ import annotations

import re

import pytest
import torch

from facegen.cli import build_parser
from facegen.config import load_config
from facegen.data.roots import DATA_ROOT_ENV
from facegen.describe import describe_model
from facegen.utils.hardware import usable_cores

from .conftest import TINY, run_cli

EVAL = ["eval", "--checkpoint", "runs/attr", "--num-samples", "2", "--steps", "1"]
SAMPLE = ["sample", "--checkpoint", "runs/uncond", "--device", "cpu", "--num-samples", "1", "--steps", "1"]


def test_eval_without_celeba_says_where_it_goes_and_names_the_variable(in_sandbox, capsys, monkeypatch):
    monkeypatch.setenv(DATA_ROOT_ENV, str(in_sandbox / "no-data"))
    result = run_cli(capsys, EVAL)
    assert result.code == 2 and len(result.error_lines) == 1
    line = result.error_lines[0]
    assert str(in_sandbox / "no-data" / "celeba") in line and "--celeba-root" in line and DATA_ROOT_ENV in line


def test_eval_finds_celeba_under_the_variable(in_sandbox, celeba_root, capsys, monkeypatch, tmp_path):
    (tmp_path / "celeba").symlink_to(celeba_root)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    seen = {}

    def score(pipe, metrics, num_samples, ref, celeba_root, **options):
        seen["root"] = celeba_root
        raise KeyboardInterrupt  # checked and about to generate: enough

    monkeypatch.setattr("facegen.scoring.score", score)
    assert run_cli(capsys, EVAL).code == 130 and seen["root"] == "$FACEGEN_DATA_ROOT/celeba"


def test_models_describes_faces128_from_its_config(capsys):
    result = run_cli(capsys, ["models"])
    line = result.out.splitlines()[1]
    assert result.code == 0 and "DiT" not in result.out
    for fact in ("UNet-small", "20.97M parameters", "128x128", "TAEF2 latents 32x16x16", "40 CelebA attributes"):
        assert fact in line, (fact, line)
    assert "rectified flow (velocity prediction), heun sampler, 5 steps (time shift 2)" in line  # since 2026-12-07


def test_the_description_follows_the_config(sandbox):
    cfg = load_config(None, [*TINY, "objective.name=ddpm", "sampler.name=ddim"])
    text = describe_model(cfg, 123_456)
    assert text.startswith("DiT-tiny/4, 0.12M parameters, 16x16 faces from pixels; unconditional; ddpm")
    guided = load_config(None, [*TINY, "sampler.guide=faces128_guide", "sampler.guide_weight=1.5"])
    assert describe_model(guided, 1).endswith("steps, autoguidance by faces128_guide (weight 1.5)")
    shifted = load_config(None, [*TINY, "sampler.steps=5", "sampler.time_shift=1.5"])
    assert describe_model(shifted, 1).endswith("sampler, 5 steps (time shift 1.5)")


@pytest.mark.parametrize("command", ["sample", "edit", "interpolate", "eval", "serve", "personalize"])
def test_every_sampling_command_takes_threads(command):
    parser = build_parser()._subparsers._group_actions[0].choices[command]
    option = next(a for a in parser._actions if "--threads" in a.option_strings)
    assert option.default == "auto" and option.type("2") == 2


@pytest.mark.parametrize("threads, omp, expected", [("1", None, 1), ("2", "1", 2), ("auto", "3", 3), ("auto", None, 0)])
def test_threads_set_what_sampling_runs_on(in_sandbox, capsys, monkeypatch, threads, omp, expected):
    monkeypatch.delenv("OMP_NUM_THREADS") if omp is None else monkeypatch.setenv("OMP_NUM_THREADS", omp)
    torch.set_num_threads(4)
    argv = [*SAMPLE, "--threads", threads, "--out", f"t{threads}{omp}"]
    assert run_cli(capsys, argv).code == 0
    assert torch.get_num_threads() == (expected or usable_cores())


@pytest.mark.parametrize("sampler", ["euler", "heun", "dopri5"])
def test_one_progress_bar_counts_the_steps_of_every_batch(in_sandbox, capsys, sampler):
    argv = [*SAMPLE, "--num-samples", "3", "--batch-size", "2", "--steps", "3", "--sampler", sampler]
    result = run_cli(capsys, [*argv, "--out", f"bar-{sampler}"])
    bars = set(re.findall(r"generating:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)", result.err))
    assert result.code == 0 and ("6", "6") in bars and all(total == "6" for _, total in bars), result.err


@pytest.fixture
def subject_file(in_sandbox, tmp_path):
    from facegen.personalization import Subject, base_fingerprint, save_subject
    from facegen.pipeline import FacePipeline

    base = FacePipeline.from_checkpoint(in_sandbox / "runs" / "attr", device="cpu").net
    subject = Subject(
        name="ada",
        method="textual-inversion",
        embedding=torch.randn(base.cond_embedder.dim),
        base_sha256=base_fingerprint(base),
        base_source="runs/attr",
        steps=1,
        attributes=torch.zeros(40),
    )
    return save_subject(subject, tmp_path / "subject.safetensors")  # the file's name is not the person's


@pytest.mark.parametrize(
    "command",
    [
        ["sample", "--num-samples", "1"],
        ["edit", "--image", "images/face.jpg", "--attributes", "Smiling=1", "--no-align", "--steps", "1"],
        ["interpolate", "--seeds", "1", "2", "--frames", "2", "--steps", "1"],
    ],
)
def test_each_command_with_a_subject_names_the_person(command, subject_file, tmp_path, capsys):
    argv = [*command, "--checkpoint", "runs/attr", "--subject", subject_file, "--out", tmp_path / "ada"]
    result = run_cli(capsys, argv)
    assert result.code == 0, result.err
    assert " of ada (textual-inversion)" in result.out


def test_interpolate_defaults_to_the_chosen_seed(in_sandbox, capsys, monkeypatch):
    from facegen.pipeline import MORPH_SEED, FacePipeline

    seen = []
    monkeypatch.setattr(FacePipeline, "interpolate", lambda self, **options: seen.append(options["seed"]) or 1 / 0)
    argv = ["interpolate", "--checkpoint", "runs/attr", "--from", "Male=1", "--to", "Male=0", "--out", "m"]
    run_cli(capsys, argv)
    run_cli(capsys, [*argv, "--seed", "3"])
    assert seen == [MORPH_SEED, 3]


def test_the_default_morph_of_faces128_is_a_face_in_every_frame():
    dlib = pytest.importorskip("dlib", reason='needs the faces extra: pip install "facegen[faces]"')
    from facegen.pipeline import FacePipeline
    from facegen.utils.pixels import to_uint8

    frames = FacePipeline.from_pretrained("faces128", device="cpu").interpolate(
        ("Male=1,Smiling=0", "Male=0,Smiling=1")
    )
    detector = dlib.get_frontal_face_detector()
    scores = [max(detector.run(a.copy(), 1, -1.0)[1], default=-2) for a in to_uint8(frames).permute(0, 2, 3, 1).numpy()]
    assert min(scores) > 1.0, scores  # seed 0's worst frame scored 0.29 (benchmarks/interpolate_seeds.py)
