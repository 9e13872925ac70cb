"""The attribute classifier: shape contract, shipped weights' accuracy on real test faces, FD_attr, consistency."""

import numpy as np
import pytest
import torch

from facegen.data import CELEBA_ATTRIBUTES
from facegen.evaluation import evaluate, load_attribute_classifier
from facegen.evaluation.classifier import SHIPPED_WEIGHTS, AttributeClassifier, save_attribute_classifier
from facegen.evaluation.classifier_training import accuracy_report
from facegen.evaluation.consistency import attribute_agreement


def test_any_input_size_gives_40_logits_and_penultimate_features(tmp_path):
    model = AttributeClassifier().eval()
    for size in (64, 128, 48):
        x = torch.rand(2, 3, size, size) * 2 - 1
        assert model(x).shape == (2, len(CELEBA_ATTRIBUTES))
        assert model.features(x).shape == (2, model.feature_dim)
    save_attribute_classifier(model, tmp_path / "clf.safetensors")
    again = load_attribute_classifier(tmp_path / "clf.safetensors")
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.equal(again(x), model(x))


def test_attribute_agreement_ignores_unspecified_attributes():
    logits = torch.full((2, 40), -1.0)
    logits[:, 0] = 1.0
    targets = torch.zeros(2, 40)
    targets[0, 0], targets[1, 0], targets[0, 1] = 1, -1, 1  # agree, disagree, disagree
    result = attribute_agreement(logits, targets)
    assert result["mean"] == pytest.approx(1 / 3)
    assert result["per_attribute"][CELEBA_ATTRIBUTES[0]] == 0.5
    assert result["per_attribute"][CELEBA_ATTRIBUTES[2]] is None and result["counts"][CELEBA_ATTRIBUTES[1]] == 1


@pytest.fixture(scope="module")
def test_accuracy(celeba_split) -> dict:
    """The shipped classifier measured on the real test split at 64 px (majority baseline left to the sidecar)."""
    return accuracy_report(load_attribute_classifier(), celeba_split("test"), torch.full((40,), 0.5))


def test_shipped_classifier_accuracy_on_the_test_split(test_accuracy, shipped_classifier_report):
    assert SHIPPED_WEIGHTS.stat().st_size <= 10 * 2**20
    recorded = shipped_classifier_report["test"]
    assert test_accuracy["num_images"] == recorded["num_images"] == 695
    assert test_accuracy["mean_accuracy"] >= recorded["mean_accuracy"] - 0.01
    assert test_accuracy["mean_accuracy"] >= recorded["majority_baseline"] + 0.05


def test_consistency_of_real_faces_with_their_labels_is_the_classifier_accuracy(
    celeba_root, celeba_split, test_accuracy
):
    test = celeba_split("test")
    labels = torch.from_numpy(test.attributes.astype(np.float32))
    report = evaluate(
        torch.from_numpy(np.array(test.images)),
        ["attr_consistency"],
        ref="celeba:test",
        celeba_root=celeba_root,
        requested_attributes=labels,
    )
    assert report["metrics"]["attr_consistency"] == pytest.approx(test_accuracy["mean_accuracy"], abs=1e-6)
    assert report["metrics"]["attr_consistency_real"] == pytest.approx(test_accuracy["mean_accuracy"], abs=1e-6)
    per_attribute = report["per_attribute"]["attr_consistency"]
    for name in CELEBA_ATTRIBUTES:
        assert per_attribute[name] == pytest.approx(test_accuracy["per_attribute"][name]["accuracy"], abs=1e-6)


def test_fd_attr_is_small_between_real_splits_and_large_for_noise(celeba_root, celeba_split):
    valid = torch.from_numpy(np.array(celeba_split("valid").images))
    noise = torch.rand(300, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    metrics = ["fd_attr", "kid_attr"]
    real = evaluate(valid, metrics, ref="celeba:test", celeba_root=celeba_root, kid_subsets=20)
    fake = evaluate(noise, metrics, ref="celeba:test", celeba_root=celeba_root, kid_subsets=20)
    again = evaluate(noise, metrics, ref="celeba:test", celeba_root=celeba_root, kid_subsets=20)
    assert fake["metrics"] == again["metrics"]
    assert 0 < real["metrics"]["fd_attr"] < fake["metrics"]["fd_attr"] / 10
    assert real["metrics"]["kid_attr"] < fake["metrics"]["kid_attr"] / 10
    assert real["protocol"]["reference"] | {"num_images": 695} == real["protocol"]["reference"]
    assert "not comparable with published FID" in real["protocol"]["classifier"]["note"]
