"""The evaluator's contract: metric names and directions, reference strings, argument checks, the table."""

import pytest
import torch

from facegen.evaluation import LOWER_IS_BETTER, evaluate, format_report_table, is_better, parse_reference


def test_metric_directions():
    assert LOWER_IS_BETTER == {"fid", "kid", "fd_attr", "kid_attr", "fd_face", "identity"}
    assert is_better("identity", 0.4, 0.5)  # a distance to the person
    assert is_better("fid", 10.0, 12.0) and not is_better("fid", 12.0, 10.0)
    assert is_better("attr_consistency", 0.9, 0.8) and not is_better("clip_score", 20.0, 20.0)
    with pytest.raises(ValueError, match="unknown metric"):
        is_better("psnr", 1.0, 0.0)


def test_reference_statistics_of_another_preprocessing_are_not_reused(tmp_path, monkeypatch):
    spec = parse_reference(f"folder:{tmp_path}", 64)
    key = spec.cache_key()
    monkeypatch.setattr("facegen.evaluation.references.PREPROCESSING", "another decoding of the same files")
    assert spec.cache_key() != key


def test_reference_strings(tmp_path):
    test = parse_reference("celeba:test", 64, celeba_root=tmp_path)
    assert (test.dataset, test.split, test.crop, test.image_size) == ("celeba", "test", 178, 64)
    assert parse_reference("celeba:valid", 32, celeba_root=tmp_path).cache_key().startswith("celeba-valid-32px-crop178")
    folder = parse_reference(f"folder:{tmp_path}", 64)
    assert (folder.dataset, folder.split, folder.crop, folder.name) == ("folder", None, None, f"folder:{tmp_path}")
    for bad in ("celeba", "celeba:bogus", "imagenet:val", "folder:"):
        with pytest.raises(ValueError):
            parse_reference(bad, 64, celeba_root=tmp_path)
    with pytest.raises(ValueError, match="celeba_root"):
        parse_reference("celeba:test", 64)
    with pytest.raises(FileNotFoundError):
        parse_reference(f"folder:{tmp_path / 'absent'}", 64)


def test_argument_mistakes_fail_before_any_work():
    images = torch.zeros(2, 3, 64, 64)
    with pytest.raises(ValueError, match="unknown"):
        evaluate(images, ["fid", "psnr"])
    with pytest.raises(ValueError, match="requested_attributes"):
        evaluate(images, ["attr_consistency"])


def test_report_table_lists_metrics_directions_and_protocol():
    report = {
        "metrics": {"fid": 12.5, "kid": 0.01, "kid_std": 0.002, "attr_consistency": 0.9, "attr_consistency_real": 0.92},
        "protocol": {
            "metrics": ["fid", "kid", "attr_consistency"],
            "num_generated": 1000,
            "image_size": 64,
            "reference": {"ref": "celeba:test", "num_images": 695, "crop": 178, "image_size": 64},
            "inception": {"network": "inception-v3-compat (torch-fidelity 0.4.0)", "weights_sha256": "abc"},
            "kid": {"subsets": 100, "subset_size": 695},
        },
    }
    table = format_report_table(report)
    assert "fid               12.5000" in table and "0.0100 ± 0.0020" in table
    assert "real faces" in table and "celeba:test, 695 images" in table and "sha256 abc" in table
