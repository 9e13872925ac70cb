"""Latent diffusion through TAEF2 and text conditioning, end to end on real faces (tiny models, few steps)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from facegen.autoencoders import build_autoencoder
from facegen.cli import main
from facegen.config import load_config
from facegen.data import load_or_build_cache
from facegen.data.encoded import load_or_build_encoded_cache
from facegen.pipeline import FacePipeline
from facegen.run import train

REPO = Path(__file__).resolve().parents[1]
ATTR = "list_attr_celebahq.txt"
TINY = {
    "train.batch_size": 4,
    "train.max_steps": 2,
    "train.warmup_steps": 1,
    "train.sample_every": 0,
    "train.mixed_precision": "fp32",
    "train.num_sample_images": 2,
    "sampler.steps": 2,
    "data.num_workers": 0,
}


@pytest.fixture(scope="module")
def taef2(shared_dir):
    return build_autoencoder("taef2", shared_dir / "weights" / "taef2")


def overrides(**values):
    return [f"{k}={v}" for k, v in {**TINY, **values}.items()]


def test_encoded_cache_equals_on_the_fly_encoding(celeba_root, taef2, tmp_path):
    images = load_or_build_cache(
        "celeba", celeba_root, "train", 64, 178, max_images=8, cache_dir=tmp_path, num_workers=0
    )
    encoded = load_or_build_encoded_cache(images, taef2)
    faces = images.batch(np.arange(8))["image"]
    assert encoded.latents.shape == (8, 2, 32, 8, 8)
    assert torch.allclose(torch.from_numpy(encoded.latents[:, 0].astype(np.float32)), taef2.encode(faces), atol=2e-2)
    mirrored = torch.from_numpy(encoded.latents[:, 1].astype(np.float32))
    assert torch.allclose(mirrored, taef2.encode(faces.flip(-1)), atol=2e-2)
    batch = encoded.batch([1, 2], flip=torch.tensor([False, True]))
    assert torch.equal(batch["image"][1], mirrored[2]) and torch.equal(
        batch["attributes"][0], images.batch([1])["attributes"][0]
    )
    assert load_or_build_encoded_cache(images, taef2).path == encoded.path  # reopened, not rebuilt
    meta = json.loads((encoded.path / "meta.json").read_text())
    meta["source_meta"]["preprocessing"] = "an older decoding"  # as if the image cache was rebuilt since
    (encoded.path / "meta.json").write_text(json.dumps(meta))
    assert load_or_build_encoded_cache(images, taef2).meta["source_meta"] == images.meta  # re-encoded


def test_text_to_face_in_latent_space(celeba_root, shared_dir, tmp_path):
    cfg = load_config(
        None,
        overrides(
            exp_name="text",
            output_dir=tmp_path,
            **{
                "data.root": celeba_root,
                "data.cache_dir": tmp_path,
                "data.max_images": 8,
                "data.image_size": 64,
                "autoencoder.name": "taef2",
                "autoencoder.path": shared_dir / "weights" / "taef2",
                "model.size": "tiny",
                "model.dit.depth": 1,
                "conditioning.type": "text",
                "sampler.cfg_scale": 3.0,
                "train.lr": 3e-3,  # two steps must move the zero-initialised adaLN enough to show the prompt
                "train.sample_every": 2,  # sample logging with a text condition (it once read .attributes)
            },
        ),
    )
    train(cfg)
    run = tmp_path / "text"
    assert (run / "samples" / "step_00000002.png").is_file()
    captions = (next(tmp_path.glob("*-taef2-minilm")) / "captions.txt").read_text().splitlines()
    assert len(captions) == 8 and all(("woman" in c) or ("man" in c) or ("person" in c) for c in captions)
    pipe = FacePipeline.from_checkpoint(run, device="cpu")
    assert pipe.config.conditioning.text_dim == 384
    faces = pipe.generate(2, steps=2, prompt="a smiling woman with eyeglasses", progress=False)
    assert faces.shape == (2, 3, 64, 64) and faces.min() >= -1 and faces.max() <= 1
    unconditional = pipe.generate(2, steps=2, prompt="", progress=False)
    assert not torch.equal(faces, unconditional)
    with pytest.raises(ValueError, match="not attribute-conditioned"):
        pipe.generate(1, attributes="Smiling=1", progress=False)
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(run),
                "--prompt",
                "an older man",
                "--num-samples",
                "2",
                "--steps",
                "2",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    assert (tmp_path / "out" / "grid.png").exists()


def celebahq_layout(data_dir: Path, folder: Path, count: int = 4) -> Path:
    """A CelebA-HQ folder (images named by HQ index + the official attribute CSV) from real HQ faces."""
    folder.mkdir()
    sources = sorted((data_dir / "celebamask-hq-512").glob("*.jpg"))[:count]
    for index, source in enumerate(sources):
        shutil.copy(source, folder / f"{index}.jpg")
    meta = data_dir / "celebahq-meta"
    lines = (meta / "list_attr_celebahq.txt").read_text().splitlines()
    (folder / "list_attr_celebahq.txt").write_text("\n".join(lines[: count + 1]) + "\n")
    shutil.copy(meta / "image_list.txt", folder)
    shutil.copy(data_dir / "celeba" / "identity_CelebA.txt", folder)
    return folder


def test_celebahq_labels_from_index_names(data_dir, tmp_path):
    from facegen.data import build_dataset
    from facegen.data.attributes import read_identity_file

    root = celebahq_layout(data_dir, tmp_path / "hq", count=3)
    with pytest.warns(UserWarning, match="have no identity"):
        data = build_dataset("celebahq", root, image_size=32)
    expected = [[int(v) for v in line.split(",")[1:]] for line in (root / ATTR).read_text().splitlines()[1:]]
    assert data.attributes.tolist() == expected and data[0]["attributes"].tolist() == expected[0]
    identities = read_identity_file(root / "identity_CelebA.txt")
    originals = {0: "119614.jpg", 1: "099095.jpg"}  # rows 0 and 1 of image_list.txt; the subset knows one of them
    assert [int(data.identities[i]) for i in originals] == [identities.get(f, -1) for f in originals.values()]
    assert (data.identities >= 0).any()
    (root / "stray.jpg").write_bytes((root / "0.jpg").read_bytes())
    with pytest.raises(ValueError, match="not named by one"):
        build_dataset("celebahq", root, image_size=32)


def test_celebahq256_text_config_runs_and_decodes_256(shared_dir, data_dir, tmp_path):
    root = celebahq_layout(data_dir, tmp_path / "celebahq")
    cfg = load_config(
        REPO / "configs" / "celebahq256_ldm_unet_text.yaml",
        overrides(
            output_dir=tmp_path,
            **{
                "data.root": root,
                "data.cache_dir": tmp_path,
                "autoencoder.path": shared_dir / "weights" / "taef2",
                "model.size": "tiny",
                "conditioning.dim": 32,
            },
        ),
    )
    train(cfg)
    pipe = FacePipeline.from_checkpoint(tmp_path / "celebahq256_ldm_unet_text", device="cpu")
    assert pipe.latent_shape == (32, 32, 32)
    faces = pipe.generate(1, steps=2, prompt="a young woman with blond hair", cfg_scale=4.0, progress=False)
    assert faces.shape == (1, 3, 256, 256)


def test_celeba128_latent_dit_attribute_config_runs(celeba_root, shared_dir, tmp_path):
    cfg = load_config(
        REPO / "configs" / "celeba128_ldm_dit_attr.yaml",
        overrides(
            output_dir=tmp_path,
            **{
                "data.root": celeba_root,
                "data.cache_dir": tmp_path,
                "data.max_images": 8,
                "autoencoder.path": shared_dir / "weights" / "taef2",
                "model.size": "tiny",
                "model.dit.depth": 1,
            },
        ),
    )
    assert train(cfg)["step"] == 2
    pipe = FacePipeline.from_checkpoint(tmp_path / "celeba128_ldm_dit_attr", device="cpu")
    assert pipe.generate(1, steps=2, attributes="Smiling=1", progress=False).shape == (1, 3, 128, 128)
