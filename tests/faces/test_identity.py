"""dlib's face descriptor on real shared CelebA identities: the same person is clearly closer than different people."""

from collections import defaultdict

import pytest
import torch

from facegen.data import build_dataset

identity = pytest.importorskip("facegen.faces.identity")
pytest.importorskip("dlib", reason='the faces extra is not installed: pip install "facegen[faces]"')


@pytest.fixture(scope="module")
def pairs(celeba_root):
    """8 same-person pairs and 8 different-person pairs from the test split, at 128x128."""
    faces = build_dataset("celeba", celeba_root, "test", image_size=128, return_identity=True)
    by_person = defaultdict(list)
    for index in range(len(faces)):
        by_person[int(faces[index]["identity"])].append(index)
    people = [rows for rows in by_person.values() if len(rows) >= 2][:8]
    same = [(faces[a]["image"], faces[b]["image"]) for a, b, *_ in people]
    different = [(faces[people[i][0]]["image"], faces[people[i - 1][1]]["image"]) for i in range(len(people))]
    return same, different


def test_same_person_is_closer_than_different_people(pairs):
    meter = identity.FaceIdentity()
    same, different = pairs
    d_same = meter.distance(*(meter.embed(torch.stack(side))[0] for side in zip(*same)))
    d_diff = meter.distance(*(meter.embed(torch.stack(side))[0] for side in zip(*different)))
    assert d_same.mean() + 0.2 < d_diff.mean(), (d_same, d_diff)
    correct = (d_same < identity.SAME_PERSON).sum() + (d_diff >= identity.SAME_PERSON).sum()
    assert correct / (len(d_same) + len(d_diff)) >= 0.8


def test_identical_images_have_zero_distance_and_report_shape(pairs):
    meter = identity.FaceIdentity()
    face = pairs[0][0][0][None]
    report = meter.compare(face, face.clone())
    assert report == {"identity_distance": 0.0, "identity_kept": 1.0}
    embeddings, found = meter.embed(face)
    assert embeddings.shape == (1, 128) and found.dtype == torch.bool
