"""FID/KID through torch-fidelity's Inception (random weights stand in for the real file) and the offline error."""

import urllib.error

import pytest

from facegen.evaluation import evaluate, inception
from facegen.evaluation.features import file_sha256


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No weights anywhere and every download failing at once, as on a machine without internet."""
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))

    def fail(url, destination):
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(inception, "_download", fail)


def test_fid_and_kid_through_the_library_network(random_inception_weights, face_folder):
    folder, faces = face_folder
    report = evaluate(faces, ["fid", "kid"], ref=f"folder:{folder}", inception_weights=random_inception_weights)
    metrics, protocol = report["metrics"], report["protocol"]
    assert abs(metrics["fid"]) < 1e-3 and abs(metrics["kid"]) < 1e-3  # the folder holds the same pixels
    assert protocol["inception"]["weights_sha256"] == file_sha256(random_inception_weights)[:12]
    assert protocol["inception"]["network"].startswith("inception-v3-compat")
    assert protocol["num_generated"] == 6 and protocol["reference"]["num_images"] == 6
    assert protocol["reference"]["crop"] is None and protocol["kid"]["subset_size"] == 6

    darker = evaluate(faces // 3, ["fid"], ref=f"folder:{folder}", inception_weights=random_inception_weights)
    assert darker["metrics"]["fid"] > 1000 * max(abs(metrics["fid"]), 1e-9)


def test_weights_come_from_the_environment_variable(monkeypatch, random_inception_weights):
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(random_inception_weights))
    assert inception.resolve_inception_weights() == random_inception_weights


def test_offline_without_weights_fails_fast_with_instructions(offline):
    with pytest.raises(RuntimeError) as error:
        inception.resolve_inception_weights()
    message = str(error.value)
    for needed in (inception.WEIGHTS_NAME, inception.WEIGHTS_URL, inception.WEIGHTS_ENV, "inception_weights="):
        assert needed in message
    assert str(inception.default_weights_path()) in message


def test_evaluate_checks_the_weights_before_reading_any_image(offline):
    def images():
        raise AssertionError("images were read before the weights were checked")
        yield

    with pytest.raises(RuntimeError, match="download failed"):
        evaluate(images(), ["fid"], ref="folder:/nowhere")


def test_a_missing_explicit_weights_file_is_named(tmp_path):
    with pytest.raises(RuntimeError, match="no file at .*missing.pth"):
        inception.InceptionFeatures(tmp_path / "missing.pth")
