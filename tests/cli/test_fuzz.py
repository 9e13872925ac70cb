"""The command line under bad input: every case ends in one line naming the key or file, with its exit code.

Hand-written cases cover each item of issue 12; generated ones walk the config schema (every key, values of the
wrong type or out of range), the numeric options, attribute strings, images and damaged checkpoints. Each case
runs ``facegen.cli.main`` in-process from a sandbox and checks: the exit code, exactly one ``facegen: error:``
line containing the expected text, no traceback, and no file in the sandbox created, changed or removed.
"""

from __future__ import annotations

import dataclasses
import random
import typing
from dataclasses import dataclass

import pytest

from facegen.config import BOUNDS, Config, ConfigError, load_config

from .conftest import DAMAGES, run_cli, snapshot

BAD, REFUSED, FILE_SYSTEM, FAILED = 2, 3, 4, 1
ATTR, UNCOND = "runs/attr", "runs/uncond"
TRAIN = ["train", "output_dir=out"]  # a case that wrongly passed validation would still write only under out/
SAMPLE = ["sample", "--checkpoint", ATTR, "--num-samples", "1", "--out", "out"]
EDIT = ["edit", "--checkpoint", ATTR, "--image", "images/face.jpg", "--set", "Smiling=1", "--out", "out"]
INTERP = ["interpolate", "--checkpoint", ATTR, "--from", "Male=1", "--to", "Male=0", "--out", "out"]
EVAL = ["eval", "--checkpoint", UNCOND, "--ref", "folder:images", "--metrics", "fd_attr"]


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]
    needle: str  # text the error line must contain: the key, option or file at fault
    code: int = BAD


def hand_written() -> list[Case]:
    cases = [
        # Validate before working (issue 12): numbers, names and combinations.
        Case("max_minutes", [*TRAIN, "train.max_minutes=-1"], "train.max_minutes"),
        Case("depth0", [*TRAIN, "model.dit.depth=0"], "model.dit.depth"),
        Case("depth0_flat", [*TRAIN, "model.depth=0"], "model.dit.depth"),  # an older flat key, moved
        Case("lr_inf", [*TRAIN, "train.lr=inf"], "train.lr"),
        Case("crop0", [*TRAIN, "data.crop=0"], "data.crop"),
        Case("seed-1", [*TRAIN, "seed=-1"], "seed"),
        Case("patch0", [*TRAIN, "model.dit.patch_size=0"], "model.dit.patch_size"),
        Case("patch_in_unet", [*TRAIN, "model.unet.patch_size=2"], "belongs in model.dit"),
        Case("channels_in_dit", [*TRAIN, "model.dit.channel_mult=[1]"], "model.dit.channel_mult"),
        Case("dit_not_section", [*TRAIN, "model.dit=5"], "model.dit"),
        Case("dit_unknown", [*TRAIN, "model.dit.patch=2"], "model.dit.patch"),
        Case("flat_and_nested", [*TRAIN, "model={patch_size: 4, dit: {patch_size: 2}}"], "model.dit.patch_size"),
        Case("size_attr_config", [*TRAIN, "conditioning.type=attributes", "model.size=huge"], "model.size"),
        Case("unet_size", [*TRAIN, "model.name=unet", "model.size=large"], "model.size"),
        Case("model_name", [*TRAIN, "model.name=vit"], "model.name"),
        Case("patch_divides", [*TRAIN, "data.image_size=36", "model.dit.patch_size=8"], "model.dit.patch_size"),
        Case("sampler_pair", [*TRAIN, "sampler.name=ddim"], "sampler.name"),
        Case("prediction_pair", [*TRAIN, "objective.name=ddpm", "objective.prediction=velocity"], "prediction"),
        Case("min_lr", [*TRAIN, "train.min_lr=1"], "train.min_lr"),
        Case("semantic_needs_attrs", [*TRAIN, "conditioning.semantic_dim=8"], "conditioning.semantic_dim"),
        Case("best_metric", [*TRAIN, "eval.best_metric=fid"], "eval.best_metric"),
        Case("identity_in_run", [*TRAIN, "eval.metrics=[identity]", "eval.best_metric=identity"], "--identity-ref"),
        # Run names are plain folder names: nothing may land beside or above output_dir.
        Case("exp_dotdot", [*TRAIN, "exp_name=.."], "exp_name"),
        Case("exp_hidden", [*TRAIN, "exp_name=.hidden"], "exp_name"),
        Case("exp_slash", [*TRAIN, "exp_name=a/b"], "exp_name"),
        Case("exp_backslash", [*TRAIN, "exp_name=a\\b"], "exp_name"),
        Case("exp_empty", [*TRAIN, "exp_name="], "exp_name"),
        # Overrides and config files.
        Case("override_no_eq", [*TRAIN, "lr"], "lr"),
        Case("override_yaml", [*TRAIN, "train.lr=[1,"], "train.lr"),
        Case("override_unknown", [*TRAIN, "train.lrr=1"], "train.lrr"),
        Case("override_section", [*TRAIN, "train=5"], "train"),
        Case("override_not_section", [*TRAIN, "seed.x=1"], "seed"),
        Case("config_missing", [*TRAIN, "--config", "missing.yaml"], "missing.yaml"),
        Case("config_folder", [*TRAIN, "--config", "images"], "images"),
        Case("resume_and_overwrite", [*TRAIN, "--resume", "auto", "--overwrite"], "--overwrite"),
        Case("resume_nothing", [*TRAIN, "--resume", "auto"], "no checkpoint found"),
        Case("resume_other_model", [*TRAIN, "--resume", ATTR, "model.dit.depth=2"], "model.dit.depth"),
        Case("resume_damaged", [*TRAIN, "--resume", "damaged/config_syntax"], "config.yaml"),
        Case("train_unknown_option", [*TRAIN, "--bogus"], "--bogus"),
        # Sampling options, attribute strings, images, outputs, devices.
        Case("steps0", [*SAMPLE, "--steps", "0"], "--steps"),
        Case("steps-3", [*SAMPLE, "--steps", "-3"], "--steps"),
        Case("samples0", [*SAMPLE, "--num-samples", "0"], "--num-samples"),
        Case("batch-1", [*SAMPLE, "--batch-size", "-1"], "--batch-size"),
        Case("sampler", [*SAMPLE, "--sampler", "rk4"], "--sampler"),
        Case("attr_twice", [*SAMPLE, "--attributes", "Smiling=1,Smiling=0"], "Smiling"),
        Case("attr_twice_case", [*SAMPLE, "--attributes", "smiling=1, Smiling=1"], "Smiling"),
        Case("attr_typo", [*SAMPLE, "--attributes", "Smilin=1"], "Smilin"),
        Case("attr_value", [*SAMPLE, "--attributes", "Smiling=2"], "Smiling"),
        Case("attr_no_eq", [*SAMPLE, "--attributes", "Smiling"], "Smiling"),
        Case("attr_on_uncond", ["sample", "--checkpoint", UNCOND, "--attributes", "Male=1"], "attribute"),
        Case("prompt_on_attr", [*SAMPLE, "--prompt", "a face"], "text-conditioned"),
        Case("reference_no_semantic", [*SAMPLE, "--reference", "images/face.jpg"], "semantic"),
        Case("both_sources", [*SAMPLE, "--model", "faces128"], "--model"),
        Case("model_unknown", ["sample", "--model", "nobody", "--out", "out"], "nobody"),
        Case("checkpoint_missing", ["sample", "--checkpoint", "nowhere", "--out", "out"], "nowhere"),
        Case("checkpoint_is_file", ["sample", "--checkpoint", "a_file", "--out", "out"], "a_file"),
        Case("no_ema_pretrained", ["sample", "--model", "faces128", "--no-ema"], "--no-ema"),
        Case("device", [*SAMPLE, "--device", "tpu"], "--device"),
        Case("out_is_file", [*SAMPLE[:-1], "a_file"], "a_file", FILE_SYSTEM),
        Case("out_under_file", [*SAMPLE[:-1], "a_file/samples"], "a_file", FILE_SYSTEM),
        # edit and interpolate.
        Case("edit_no_image", ["edit", "--checkpoint", ATTR, "--set", "Smiling=1"], "--image"),
        Case("edit_attr_alias", [*EDIT[:-4], "--attributes", "Smiling=maybe"], "--attributes"),
        Case("edit_source", [*EDIT, "--source", "Bogus=1"], "--source-attributes"),
        Case("edit_uncond", ["edit", "--checkpoint", UNCOND, *EDIT[3:]], "attribute-conditioned"),
        Case("from_without_to", INTERP[:-4] + ["--out", "out"], "--to-attributes"),
        Case("to_without_from", ["interpolate", "--checkpoint", ATTR, "--to", "Male=0"], "--from-attributes"),
        Case("interp_nothing", ["interpolate", "--checkpoint", ATTR], "--seeds"),
        Case("interp_uncond", ["interpolate", "--checkpoint", UNCOND, *INTERP[3:]], "--seeds"),
        Case("seeds_one", ["interpolate", "--checkpoint", ATTR, "--seeds", "1"], "--seeds"),
        Case("frames1", [*INTERP, "--frames", "1"], "--frames"),
        Case("frames-2", [*INTERP, "--frames", "-2"], "--frames"),
        # eval checks everything before generating.
        Case("metric_typo", [*EVAL[:-1], "fdd"], "fdd"),
        Case("metrics_empty", [*EVAL[:-1], ","], "--metrics"),
        Case("eval_one_sample", [*EVAL, "--num-samples", "1"], "--num-samples"),
        Case("ref_kind", [*EVAL[:3], "--ref", "imagenet:val", *EVAL[5:]], "imagenet:val"),
        Case("ref_split", [*EVAL[:3], "--ref", "celeba:tst", *EVAL[5:]], "tst"),
        Case("ref_folder", [*EVAL[:3], "--ref", "folder:nowhere", *EVAL[5:]], "nowhere"),
        Case("ref_no_celeba", [*EVAL[:3], "--ref", "celeba:test", "--celeba-root", "images", *EVAL[5:]], "--ref"),
        Case("consistency_uncond", [*EVAL[:-1], "attr_consistency"], "attr_consistency"),
        Case("clip_on_attr", ["eval", "--checkpoint", ATTR, "--metrics", "clip_score"], "clip_score"),
        Case("cond_needs_celeba", ["eval", "--checkpoint", ATTR, "--ref", "folder:images"], "celeba"),
        Case("inception_missing", [*EVAL[:-1], "fid", "--inception-weights", "no.pth"], "no.pth", FAILED),
        Case("eval_out_dir", [*EVAL, "--out", "images"], "images", FILE_SYSTEM),
        Case("eval_out_under_file", [*EVAL, "--out", "a_file/report.json"], "a_file", FILE_SYSTEM),
        # export, data, top level.
        Case("export_card", ["export", "--checkpoint", ATTR, "--out", "m", "--card", "card.md"], "card.md"),
        Case("export_exists", ["export", "--checkpoint", ATTR, "--out", "images"], "--overwrite", REFUSED),
        Case("export_out_file", ["export", "--checkpoint", ATTR, "--out", "a_file"], "a_file", FILE_SYSTEM),
        Case("encode_pixels", ["data", "encode", "data.max_images=4"], "data prepare"),
        Case("prepare_bad_key", ["data", "prepare", "model.dit.depth=0"], "model.dit.depth"),
        Case("data_nothing", ["data"], "COMMAND"),
        Case("no_command", [], "COMMAND"),
        Case("unknown_command", ["bogus"], "bogus"),
    ]
    for image in ("truncated.jpg", "empty.jpg", "text.png", "folder.jpg", "missing.jpg"):
        cases.append(Case(f"image_{image}", [*EDIT[:4], f"images/{image}", *EDIT[5:]], image))
        cases.append(Case(f"reference_{image}", [*SAMPLE, "--reference", f"images/{image}"], image))
    for damage in DAMAGES:
        if not damage.startswith("state_"):  # training states are read only by --resume (test_data_loss.py)
            needle = "model.safetensors" if damage.startswith("model") else _damaged_file(damage)
            no_ema = ["--no-ema"] if damage.startswith("model") else []
            cases.append(Case(f"damaged_{damage}", [*SAMPLE[:2], f"damaged/{damage}", *SAMPLE[3:], *no_ema], needle))
    return cases


def _damaged_file(damage: str) -> str:
    return {"ema": "ema.safetensors", "config": "config.yaml", "meta": "meta.json"}[damage.split("_")[0]]


def _leaf_keys(cls: type = Config, prefix: str = "") -> list[tuple[str, typing.Any]]:
    keys = []
    for name, hint in typing.get_type_hints(cls).items():
        if dataclasses.is_dataclass(hint):
            keys += _leaf_keys(hint, f"{prefix}{name}.")
        else:
            keys.append((prefix + name, hint))
    return keys


def bad_values(key: str, hint: typing.Any) -> list[str]:
    """Values that must be refused for ``key``: wrong types, non-finite numbers, each side of its bound."""
    options = (
        [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_origin(hint)
        in (
            typing.Union,
            __import__("types").UnionType,
        )
        else [hint]
    )
    base = options[0]
    if typing.get_origin(base) is typing.Literal:
        return ["bogus_choice", "[1]"]
    if typing.get_origin(base) is list:
        return ["5", "[[1]]"]
    if base is bool:
        return ["maybe", "[1]"]
    if base is str:
        return ["[1, 2]", "{a: 1}"]
    values = ["abc", "[1]"] + (["1.5"] if base is int else ["nan", "-inf"])
    bound = BOUNDS.get(key)
    if bound is not None and bound.low is not None:
        values.append(str(bound.low if bound.low_open else bound.low - (1 if base is int else 0.5)))
    if bound is not None and bound.high is not None:
        values.append(str(bound.high if bound.high_open else bound.high + 1))
    return values


def generated_config_cases() -> list[Case]:
    return [
        Case(f"config_{key}={value}", [*TRAIN, f"{key}={value}"], key)
        for key, hint in _leaf_keys()
        for value in bad_values(key, hint)
    ]


# (base command, option, its lowest valid value, whether it takes floats)
NUMERIC_OPTIONS = [
    (SAMPLE, "--steps", 1, False),
    (SAMPLE, "--num-samples", 1, False),
    (SAMPLE, "--batch-size", 1, False),
    (SAMPLE, "--seed", 0, False),
    (SAMPLE, "--cfg-scale", 0, True),
    (EDIT, "--strength", 0, True),
    (EDIT, "--semantic-margin", 0, True),
    (EDIT, "--steps", 1, False),
    (INTERP, "--frames", 2, False),
    (INTERP, "--seed", 0, False),
    (EVAL, "--num-samples", 2, False),
    (EVAL, "--batch-size", 1, False),
    (EVAL, "--max-reference-images", 1, False),
    (EVAL, "--seed", 0, False),
]


def generated_option_cases() -> list[Case]:
    cases = []
    for base, option, low, floats in NUMERIC_OPTIONS:
        below = str(low - 0.5 if floats else low - 1) if option != "--strength" else "0"
        values = [below, "abc", "nan", "1e999"] if floats else [below, "abc", "2.5", "-99"]
        cases += [Case(f"{base[0]}{option}={v}", [*base, option, v], option) for v in values]
    return cases


def generated_attribute_cases(count: int = 40, seed: int = 0) -> list[Case]:
    """Attribute strings with exactly one fault (typo, bad value, duplicate, missing '='), for every command."""
    from facegen.data.attributes import CELEBA_ATTRIBUTES

    rng = random.Random(seed)
    commands = [(SAMPLE, "--attributes"), (EDIT[:-4] + EDIT[-2:], "--set"), (EDIT, "--source")]
    commands += [(INTERP[:5] + INTERP[7:], "--to"), (INTERP[:3] + INTERP[5:], "--from")]
    cases = []
    for i in range(count):
        names = rng.sample(CELEBA_ATTRIBUTES, 3)
        items = [f"{n}={rng.choice(['1', '0', '-1', 'yes', 'off', ''])}" for n in names]
        fault = i % 4
        if fault == 0:
            name = names[0]
            cut = rng.randrange(len(name))
            culprit = name[:cut] + name[cut + 1 :] + "x"
            items[0] = f"{culprit}=1"
        elif fault == 1:
            culprit = names[1]
            items[1] = f"{culprit}={rng.choice(['2', 'maybe', '1.5', 'present'])}"
        elif fault == 2:
            culprit = names[2]
            items.append(f"{culprit.lower() if rng.random() < 0.5 else culprit}=1")
        else:
            culprit = names[0]
            items[0] = culprit
        base, option = commands[i % len(commands)]
        cases.append(Case(f"attributes_{i}", [*base, option, ", ".join(items)], culprit))
    return cases


CASES = hand_written() + generated_config_cases() + generated_option_cases() + generated_attribute_cases()


def test_the_suite_is_large_enough():
    assert len(CASES) >= 300 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_input_gets_one_line(case, in_sandbox, capsys):
    before = snapshot(in_sandbox)
    result = run_cli(capsys, case.argv)
    assert "Traceback" not in result.err + result.out
    assert len(result.error_lines) == 1, result.err
    assert case.needle in result.error_lines[0], result.error_lines[0]
    assert result.code == case.code, result.error_lines[0]
    assert snapshot(in_sandbox) == before, "a refused command changed files"


@pytest.mark.parametrize("key, hint", _leaf_keys()[::3], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_config_file_names_file_line_and_key(key, hint, in_sandbox, tmp_path, capsys):
    """The same schema faults inside a YAML file (every third key): the line names the file and the key."""
    *sections, leaf = key.split(".")
    value = bad_values(key, hint)[0]
    text = "".join(f"{'  ' * i}{s}:\n" for i, s in enumerate(sections)) + f"{'  ' * len(sections)}{leaf}: {value}\n"
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = run_cli(capsys, [*TRAIN, "--config", path])
    assert result.code == BAD and len(result.error_lines) == 1 and "Traceback" not in result.err
    assert str(path) in result.error_lines[0] and key in result.error_lines[0]


@pytest.mark.parametrize(
    "text, where",
    [
        ("train:\n  lr: [1,\n", "line 3"),
        ("train:\n\tlr: 1\n", "line 2"),
        ("a: b: c\n", "line 1"),
        ("train: {lr: 1\n", "line 2"),
        ("- 1\n- 2\n", "got a list"),
        ("just text\n", "got a str"),
        ("42\n", "got a int"),
        ('"unterminated\n', "line"),
        ("!!python/object:os.system {}\n", "line 1"),
    ],
)
def test_broken_yaml_is_one_line_with_file_and_line(text, where, in_sandbox, tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    result = run_cli(capsys, [*TRAIN, "--config", path])
    assert result.code == BAD and len(result.error_lines) == 1 and "Traceback" not in result.err
    assert str(path) in result.error_lines[0] and where in result.error_lines[0]


def test_binary_config_is_named(in_sandbox, tmp_path, capsys):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")
    result = run_cli(capsys, [*TRAIN, "--config", path])
    assert result.code == BAD and str(path) in result.error_lines[0] and "UTF-8" in result.error_lines[0]


def test_any_override_value_is_a_config_or_a_named_error():
    """Generated: any text for any key either loads or fails with a ConfigError naming that key."""
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    keys = [key for key, _ in _leaf_keys()]

    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
    @hypothesis.given(st.sampled_from(keys), st.text(max_size=12))
    def check(key, value):
        try:
            load_config(None, [f"{key}={value}"])
        except ConfigError as err:
            assert key.split(".")[-1] in str(err) or "override" in str(err), str(err)

    check()
