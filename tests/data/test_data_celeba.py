"""The CelebA dataset on the shared subset and on small layouts with deliberate faults."""

import warnings

import pytest
import torch
from PIL import Image

from facegen.data import CELEBA_ATTRIBUTES, CelebA, preprocess, to_model_range

FIRST_IMAGES = ["000001.jpg", "000002.jpg", "000004.jpg", "000017.jpg", "000019.jpg"]  # ids of the subset


@pytest.mark.parametrize(("split", "count"), [("train", 9_989), ("valid", 764), ("test", 695), ("all", 11_448)])
def test_split_sizes(celeba_root, split, count):
    assert len(CelebA(celeba_root, split)) == count


def test_items_of_a_known_image(celeba_root):
    dataset = CelebA(celeba_root, "train", image_size=32, return_identity=True, max_images=2)
    assert dataset.filenames == ["000001.jpg", "000002.jpg"] and dataset.attribute_names == CELEBA_ATTRIBUTES
    item = dataset[0]
    assert set(item) == {"image", "attributes", "identity", "index"} and item["index"] == 0
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert -1 <= item["image"].min() < item["image"].max() <= 1
    expected = preprocess(Image.open(celeba_root / "img_align_celeba" / "000001.jpg"), 32)
    assert torch.equal(item["image"], to_model_range(expected))
    # From the row of 000001.jpg in list_attr_celeba.txt and identity_CelebA.txt.
    attributes = dict(zip(CELEBA_ATTRIBUTES, item["attributes"].tolist()))
    assert attributes["Smiling"] == 1 and attributes["Male"] == -1 and attributes["Young"] == 1
    assert attributes["Arched_Eyebrows"] == 1 and attributes["Eyeglasses"] == -1 and attributes["Bald"] == -1
    assert item["attributes"].dtype == torch.float32 and set(item["attributes"].tolist()) == {-1.0, 1.0}
    assert item["identity"].dtype == torch.int64 and item["identity"].ndim == 0 and item["identity"] == 2880


def test_labels_can_be_left_out(celeba_root):
    item = CelebA(celeba_root, "test", image_size=16, return_attributes=False, max_images=1)[0]
    assert set(item) == {"image", "index"}


def test_flip_mirrors_some_items(celeba_root):
    plain = CelebA(celeba_root, "valid", image_size=16, max_images=1)[0]["image"]
    flipping = CelebA(celeba_root, "valid", image_size=16, flip=True, max_images=1)
    torch.manual_seed(0)
    draws = [flipping[0]["image"] for _ in range(16)]
    assert all(torch.equal(x, plain) or torch.equal(x, plain.flip(-1)) for x in draws)
    assert any(torch.equal(x, plain.flip(-1)) for x in draws) and any(torch.equal(x, plain) for x in draws)


def test_unknown_split(celeba_root):
    with pytest.raises(ValueError, match="split must be one of"):
        CelebA(celeba_root, "validation")


def test_missing_root_says_how_to_get_the_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere") as error:
        CelebA(tmp_path / "nowhere")
    assert "facegen data prepare --download" in str(error.value) and "mmlab.ie.cuhk.edu.hk" in str(error.value)


def test_missing_files_are_named(make_celeba):
    root = make_celeba(FIRST_IMAGES[:2])
    (root / "identity_CelebA.txt").unlink()
    assert len(CelebA(root)) == 2  # identities are only required when asked for
    with pytest.raises(FileNotFoundError, match="identity_CelebA.txt"):
        CelebA(root, return_identity=True)
    (root / "list_attr_celeba.txt").unlink()
    with pytest.raises(FileNotFoundError, match="list_attr_celeba.txt") as error:
        CelebA(root)
    assert str(root / "identity_CelebA.txt") not in str(error.value)


def test_small_layout_without_landmarks_or_bboxes(make_celeba):
    dataset = CelebA(make_celeba(FIRST_IMAGES), "all", image_size=16, return_identity=True)
    assert dataset.filenames == FIRST_IMAGES and dataset[0]["identity"] == 2880


def test_rows_for_images_missing_on_disk_fail(make_celeba):
    root = make_celeba(FIRST_IMAGES[:3], unfiled=["000005.jpg", "000006.jpg"])
    with pytest.raises(ValueError, match=r"2 images listed in .* are not in .*000005\.jpg"):
        CelebA(root)


def test_images_without_rows_fail(make_celeba):
    root = make_celeba(FIRST_IMAGES[:3], unlisted=["000021.jpg"])
    with pytest.raises(ValueError, match=r"1 images in .* have no row in .*000021\.jpg"):
        CelebA(root)


def test_corrupt_image_is_skipped_counted_and_warned_once(make_celeba):
    root = make_celeba(FIRST_IMAGES[:2], garbage=["000003.jpg", "999999.jpg"])
    dataset = CelebA(root, "all", image_size=16)
    assert dataset.filenames == ["000001.jpg", "000002.jpg", "000003.jpg", "999999.jpg"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = [dataset[i] for i in range(len(dataset))] + [dataset[i] for i in range(len(dataset))]
    # Items 2 and 3 are garbage: both fall through to the next readable image, wrapping around to 0.
    assert [item["index"] for item in items] == [0, 1, 0, 0] * 2
    assert dataset.num_skipped == 2
    assert len([w for w in caught if "unreadable image" in str(w.message)]) == 1


def test_all_images_corrupt(make_celeba):
    root = make_celeba(FIRST_IMAGES[:1], garbage=["000002.jpg"])
    (root / "img_align_celeba" / "000001.jpg").write_bytes(b"")
    with pytest.warns(RuntimeWarning), pytest.raises(RuntimeError, match="none of the 2 images"):
        CelebA(root, "all")[0]
