"""The Animate tab and /api/animate of a live server: an MP4 that plays (duration, frames), and refusals."""

import shutil
import tempfile

import httpx
import pytest

imageio = pytest.importorskip("imageio.v2", reason='videos need the video extra: pip install "facegen[video]"')

FAST = {"steps": "1"}  # one Heun step: plumbing, not quality


def _frames(data: bytes, suffix: str = ".mp4") -> tuple[int, dict]:
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/clip{suffix}"
        with open(path, "wb") as handle:
            handle.write(data)
        reader = imageio.get_reader(path)
        try:
            return reader.count_frames(), reader.get_meta_data()
        finally:
            reader.close()


def test_api_animate_a_photo_returns_an_mp4(server, face_photo):
    url, _ = server
    files = {"image": (face_photo.name, face_photo.read_bytes(), "image/jpeg")}
    data = {"to": "Smiling=1", "then": "Young=0", "num_frames": "6", "fps": "6", **FAST}
    reply = httpx.post(f"{url}/api/animate", files=files, data=data, timeout=180)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "video/mp4" and "animation.mp4" in reply.headers["content-disposition"]
    count, meta = _frames(reply.content)
    assert count == 6 and meta["fps"] == 6 and meta["codec"] == "h264" and meta["size"] == (128, 128)


def test_api_animate_between_seeds_as_webm_and_gif(server):
    url, _ = server
    reply = httpx.post(f"{url}/api/animate", data={"seeds": "1,2", "num_frames": "3", "format": "webm", **FAST})
    assert reply.status_code == 200 and reply.headers["content-type"] == "video/webm", reply.text
    assert _frames(reply.content, ".webm")[0] == 3
    reply = httpx.post(f"{url}/api/animate", data={"seeds": "1,2", "num_frames": "3", "format": "gif", **FAST})
    assert reply.status_code == 200 and reply.content[:3] == b"GIF"


@pytest.mark.parametrize(
    "data, words",
    [
        ({}, "give a source"),
        ({"seeds": "1"}, "two or more seeds"),
        ({"seeds": "1,x"}, "seeds must be an integer"),
        ({"seeds": "1,2", "num_frames": "500"}, "num_frames must be an integer from 2 to 48"),
        ({"seeds": "1,2", "fps": "0"}, "fps must be an integer from 1 to 60"),
        ({"from_attributes": "Male=1", "to": "Smling=1"}, "to: unknown attribute 'Smling'"),
        ({"from_attributes": "Male=1", "then": "Male=0"}, "then needs to first"),
        ({"seeds": "1,2", "paste_back": "true"}, "paste_back needs a photo"),
        ({"seeds": "1,2", "format": "avi"}, "format"),
    ],
)
def test_api_animate_refusals_are_one_line(server, data, words):
    url, _ = server
    reply = httpx.post(f"{url}/api/animate", data=data, timeout=60)
    assert reply.status_code == 400, reply.text
    message = reply.json()["error"]
    assert words in message and "\n" not in message, message


sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: apt-get install chromium")
def test_the_animate_tab_plays_the_video_and_offers_it(server, tmp_path):
    url, _ = server
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.get_by_role("tab", name="Animate").click()
        page.locator("#animate-seeds").get_by_role("textbox").fill("1,2")
        page.locator("#animate").click()
        video = page.locator("#animation-video video")
        video.wait_for()
        handle = video.element_handle()
        page.wait_for_function("v => v.readyState >= 2 && v.duration > 0", arg=handle)
        assert handle.evaluate("v => v.duration") == pytest.approx(16 / 12, abs=0.05)  # 16 frames at 12 fps
        handle.evaluate("v => { v.muted = true; v.loop = false; v.currentTime = 0; return v.play(); }")
        page.wait_for_function("v => v.ended", arg=handle)
        assert handle.evaluate("v => v.getVideoPlaybackQuality().totalVideoFrames") >= 8  # decoded and shown
        assert handle.evaluate("v => v.error") is None
        page.screenshot(path=str(tmp_path / "web_animate.png"), full_page=True)
        link = page.locator("#animate-download a").first
        href = link.get_attribute("href")
        assert "animation.mp4" in href
        count, meta = _frames(page.request.get(href).body())
        assert count == 16 and meta["fps"] == 12
        browser.close()
