"""The HTTP API of a live server: each endpoint with good and bad input, and 20 requests at once."""

import base64
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import psutil
from PIL import Image

from facegen.pipeline import MORPH_SEED

FAST = {"steps": 1}  # one Heun step: shapes and plumbing, not quality
MEMORY_CEILING_GIB = 3.0  # measured: ~1.3 GiB resident while serving 20 concurrent requests (docs/WEB.md)


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def _is_face_sized_picture(image: Image.Image, size: int = 128) -> None:
    pixels = np.asarray(image, dtype=np.float32)
    assert image.size == (size, size)
    assert pixels.std() > 20, "a flat picture, not a face"


def test_health_and_model(server):
    url, _ = server
    assert httpx.get(f"{url}/api/health").json() == {"status": "ok"}
    info = httpx.get(f"{url}/api/model").json()
    assert info["name"] == "faces128" and info["image_size"] == 128 and info["conditioning"] == "attributes"
    assert "heun" in info["samplers"] and info["card"].startswith("#")


def test_generate_json_and_png(server):
    url, _ = server
    body = {"attributes": {"Smiling": 1, "Male": -1}, "num_faces": 2, "seed": 3, **FAST}
    reply = httpx.post(f"{url}/api/generate", json=body, timeout=120)
    assert reply.status_code == 200, reply.text
    faces = [_png(base64.b64decode(b)) for b in reply.json()["images"]]
    assert len(faces) == 2
    for face in faces:
        _is_face_sized_picture(face)
    again = httpx.post(f"{url}/api/generate", json=body, timeout=120).json()["images"]
    assert again == reply.json()["images"], "the same seed must give the same faces"
    grid = httpx.post(f"{url}/api/generate", json={**body, "attributes": "Smiling=1", "format": "png"}, timeout=120)
    assert grid.headers["content-type"] == "image/png" and _png(grid.content).width > 2 * 128


def test_generate_refusals_are_one_line(server):
    url, _ = server
    cases = {
        "Smilng": ({"attributes": {"Smilng": 1}}, "unknown attribute 'Smilng'"),
        "value": ({"attributes": {"Smiling": 7}}, "Smiling=7"),
        "faces": ({"num_faces": 100}, "num_faces must be an integer from 1 to 16"),
        "steps": ({"steps": 0}, "steps must be an integer from 1 to 50"),
        "sampler": ({"sampler": "ddim"}, "sampler must be one of heun"),
        "guidance": ({"cfg_scale": 1e9}, "cfg_scale must be a number from 0 to 20"),
        "prompt": ({"prompt": "a smiling woman"}, "not text-conditioned"),
        "extra": ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        "type": ({"num_faces": "many"}, "num_faces:"),
    }
    for name, (body, expected) in cases.items():
        reply = httpx.post(f"{url}/api/generate", json=body, timeout=60)
        assert reply.status_code == 400, name
        message = reply.json()["error"]
        assert expected in message and "\n" not in message and "Traceback" not in message, (name, message)
    broken = httpx.post(f"{url}/api/generate", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "JSON" in broken.json()["error"]


def test_edit(server, face_photo):
    url, _ = server
    files = {"image": (face_photo.name, face_photo.read_bytes(), "image/jpeg")}
    reply = httpx.post(f"{url}/api/edit", files=files, data={"changes": "Smiling=1", **FAST}, timeout=120)
    assert reply.status_code == 200, reply.text
    result = {name: _png(base64.b64decode(b)) for name, b in reply.json().items() if name != "note"}
    assert set(result) == {"input", "reconstruction", "edited", "pasted"}
    assert reply.json()["note"] == "already aligned"
    assert result.pop("pasted").size == Image.open(face_photo).size  # the change, at the photo's own size
    for image in result.values():
        _is_face_sized_picture(image)
    edited = np.asarray(result["edited"], dtype=np.float32)
    assert np.abs(edited - np.asarray(result["input"], dtype=np.float32)).mean() < 60, "not the same face"


def test_edit_of_an_ordinary_photo_is_aligned_and_pasted_back(server, data_dir):
    url, _ = server
    photo = sorted((data_dir / "celebamask-hq-512").glob("*.jpg"))[0]
    files = {"image": (photo.name, photo.read_bytes(), "image/jpeg")}
    reply = httpx.post(f"{url}/api/edit", files=files, data={"changes": "Eyeglasses=1", **FAST}, timeout=120)
    assert reply.status_code == 200, reply.text
    assert reply.json()["note"] == "aligned like CelebA"
    pasted = _png(base64.b64decode(reply.json()["pasted"]))
    original = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32)
    assert pasted.size == (512, 512)
    change = np.abs(np.asarray(pasted, dtype=np.float32) - original).mean(axis=2)
    assert change[:40].mean() < change[200:300, 180:330].mean(), "the face changed more than the photo's top edge"


def test_edit_refusals(server, face_photo):
    url, _ = server
    photo = {"image": ("face.jpg", face_photo.read_bytes(), "image/jpeg")}
    text = {"image": ("notes.txt", b"not a picture at all", "text/plain")}
    huge = {"image": ("huge.png", b"\0" * (9 * 2**20), "image/png")}
    cases = [
        (text, {"changes": "Smiling=1"}, 400, "notes.txt: not an image"),
        (huge, {"changes": "Smiling=1"}, 413, "over the upload limit"),
        (photo, {"changes": ","}, 400, "changes: name at least one attribute"),
        (photo, {"changes": "Smiling=maybe"}, 400, "Smiling='maybe'"),
        (photo, {"changes": "Smiling=1", "strength": "2"}, 400, "strength must be a number from 0.05 to 1"),
        (photo, {}, 400, "changes: Field required"),
    ]
    for files, data, status, expected in cases:
        reply = httpx.post(f"{url}/api/edit", files=files, data=data, timeout=60)
        assert reply.status_code == status, (expected, reply.text)
        assert expected in reply.json()["error"], (expected, reply.json())


def test_interpolate(server):
    url, _ = server
    body = {"from_attributes": "Smiling=-1", "to_attributes": "Smiling=1", "num_frames": 3, **FAST}
    frames = httpx.post(f"{url}/api/interpolate", json=body, timeout=120).json()["frames"]
    assert len(frames) == 3
    chosen = httpx.post(f"{url}/api/interpolate", json={**body, "seed": MORPH_SEED}, timeout=120).json()["frames"]
    other = httpx.post(f"{url}/api/interpolate", json={**body, "seed": 0}, timeout=120).json()["frames"]
    assert frames == chosen != other  # the default face is the CLI's
    gif = httpx.post(f"{url}/api/interpolate", json={"seeds": [1, 2], "num_frames": 2, "format": "gif", **FAST})
    assert gif.status_code == 200 and Image.open(io.BytesIO(gif.content)).n_frames == 2
    for body, expected in (
        ({"num_frames": 3}, "give from_attributes/to_attributes, seeds=[a, b], or both"),
        ({"seeds": [1, 2, 3]}, "seeds must be two integers"),
        ({"seeds": [1, 2], "num_frames": 1000}, "num_frames must be an integer from 2 to 24"),
    ):
        reply = httpx.post(f"{url}/api/interpolate", json=body, timeout=60)
        assert reply.status_code == 400 and expected in reply.json()["error"], reply.text


def test_twenty_concurrent_requests_finish_or_are_refused_with_bounded_memory(server):
    url, process = server
    watched = psutil.Process(process.pid)
    peak, done = [watched.memory_info().rss], threading.Event()

    def watch():
        while not done.is_set():
            peak.append(watched.memory_info().rss)
            time.sleep(0.05)

    def request(seed):
        body = {"num_faces": 4, "seed": seed, "attributes": {"Eyeglasses": 1}, **FAST}
        return httpx.post(f"{url}/api/generate", json=body, timeout=300)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(20) as pool:
            replies = list(pool.map(request, range(20)))
    finally:
        done.set()
        watcher.join()
    statuses = [r.status_code for r in replies]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 5, statuses  # one running + four waiting are always admitted
    for reply in replies:
        if reply.status_code == 503:
            assert reply.json()["error"].startswith("busy:")
        else:
            assert len(reply.json()["images"]) == 4
    assert max(peak) < MEMORY_CEILING_GIB * 2**30, f"server RSS peaked at {max(peak) / 2**30:.2f} GiB"
    gib = max(peak) / 2**30
    print(f"20 concurrent: {statuses.count(200)} served, {statuses.count(503)} busy, peak RSS {gib:.2f} GiB")
    assert httpx.get(f"{url}/api/health").status_code == 200
