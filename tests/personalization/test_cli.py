"""``facegen personalize`` then ``sample/edit --subject``, and their refusals, as a user runs them."""

from __future__ import annotations

from facegen.cli import main

from .conftest import save_tiny_base


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_personalize_then_sample_and_edit_the_person(tiny_base, person_photos, tmp_path, capsys):
    out = tmp_path / "alice.safetensors"
    train = ["personalize", "--checkpoint", tiny_base, "--images", person_photos, "--name", "alice", "--out", out]
    quick = ["--method", "textual-inversion", "--steps", "2", "--batch-size", "2", "--preview", "1"]
    assert run(capsys, *train, *quick)[0] == 0
    assert out.is_file() and (tmp_path / "alice.png").is_file()
    code, err = run(capsys, *train, *quick)  # the same --out again: refused, nothing lost
    assert code == 3 and "--overwrite" in err and err.count("facegen: error:") == 1
    subject = ["--checkpoint", tiny_base, "--subject", out]
    sample = ["sample", *subject, "--attributes", "Smiling=1", "--num-samples", "2", "--out", tmp_path / "s"]
    assert run(capsys, *sample)[0] == 0 and (tmp_path / "s" / "0001.png").is_file()
    photo = next(person_photos.iterdir())
    edit = ["edit", *subject, "--image", photo, "--set", "Smiling=1", "--steps", "1", "--out", tmp_path / "e"]
    assert run(capsys, *edit)[0] == 0 and (tmp_path / "e" / "edited.png").is_file()
    other = save_tiny_base(tmp_path / "other", seed=1)
    code, err = run(capsys, "sample", "--checkpoint", other, "--subject", out, "--out", tmp_path / "x")
    assert code == 2 and "another base model" in err and not (tmp_path / "x").exists()


def test_bad_personalize_input_is_one_line(tiny_base, person_photos, tmp_path, capsys):
    base = ["personalize", "--checkpoint", tiny_base, "--name", "a"]
    cases = [
        ([*base, "--images", tmp_path / "none", "--out", tmp_path / "a.safetensors"], "--images"),
        ([*base, "--images", person_photos, "--out", tmp_path / "a.pt"], "--out"),
        ([*base, "--images", tmp_path, "--out", tmp_path / "a.safetensors"], "4 to 20 photos"),
        ([*base, "--images", person_photos, "--out", tmp_path / "a.safetensors", "--full-weights"], "--full-weights"),
        ([*base, "--images", person_photos, "--out", tmp_path / "a.safetensors", "--lora-targets", "nope"], "nope"),
    ]
    for argv, needle in cases:
        code, err = run(capsys, *argv)
        assert code == 2 and needle in err and err.count("facegen: error:") == 1, (argv, err)
    assert not list(tmp_path.glob("a.*"))
