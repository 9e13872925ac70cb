"""The web page in headless Chromium (Debian's package): generate, edit, and a refused upload, with screenshots.

Set ``FACEGEN_SCREENSHOTS=docs`` to write the screenshots the README shows; by default they go to a temp folder.
"""

import base64
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facegen.pipeline import MORPH_SEED

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: apt-get install chromium"),
]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def page(server):
    url, _ = server
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(url)
        tab.wait_for_selector("#generate")
        yield tab
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    target = os.environ.get("FACEGEN_SCREENSHOTS")
    return Path(target) if target else tmp_path_factory.mktemp("screenshots")


def _picture(page, src: str) -> Image.Image:
    """The image behind an <img> src (a data: URL or a file the server serves)."""
    if src.startswith("data:"):
        data = base64.b64decode(src.split(",", 1)[1])
    else:
        data = page.request.get(src).body()
    return Image.open(io.BytesIO(data)).convert("RGB")


def _assert_face(image: Image.Image) -> None:
    pixels = np.asarray(image, dtype=np.float32)
    assert image.size == (128, 128) and pixels.std() > 20, "not a 128x128 picture with content"


def _set_number(page, selector: str, value) -> None:
    field = page.locator(f"{selector} input[type=number]")
    field.fill(str(value))
    field.press("Enter")


def test_generate_with_two_attributes(page, shots):
    page.get_by_role("tab", name="Generate").click()
    page.locator("#attr-Smiling").get_by_text("yes", exact=True).click()
    page.locator("#attr-Male").get_by_text("no", exact=True).click()
    page.locator("#randomize input").uncheck()
    _set_number(page, "#num-faces", 4)
    page.locator("#generate").click()
    images = page.locator("#gallery img")
    images.nth(3).wait_for()
    assert images.count() == 4
    for i in range(4):
        _assert_face(_picture(page, images.nth(i).get_attribute("src")))
    page.locator("#download a, #download button").first.wait_for()
    page.screenshot(path=str(shots / "web_generate.png"), full_page=True)


def test_edit_a_real_photo(page, shots, data_dir):
    photo = sorted((data_dir / "celebamask-hq-512").glob("*.jpg"))[1]  # not aligned like CelebA
    page.get_by_role("tab", name="Edit").click()
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    before = page.locator("#before img")
    before.wait_for()  # the upload is shown as a photo before anything runs
    assert _picture(page, before.get_attribute("src")).size == (512, 512)
    assert page.get_by_text("Recommended: the strength measured").is_visible()  # presets said in words
    page.locator("#edit").click()
    page.get_by_text("aligned like CelebA").first.wait_for()
    after = _picture(page, page.locator("#after img").get_attribute("src"))
    assert after.size == (512, 512)  # before and after side by side at the photo's resolution
    names = page.locator("#edit-download").inner_text() + " ".join(
        page.locator("#edit-download a").evaluate_all("links => links.map(a => a.download + ' ' + a.href)")
    )
    assert f"{photo.stem}-smiling.png" in names, names  # saved under a name that says what it is
    page.screenshot(path=str(shots / "web_edit.png"), full_page=True)


def test_a_text_file_is_refused_on_the_page(page, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a face")
    page.reload()  # a fresh Edit tab: the photo box holds the earlier upload otherwise
    page.wait_for_selector("#generate")
    page.get_by_role("tab", name="Edit").click()
    page.locator("#photo input[type=file]").set_input_files(str(notes))
    page.locator("#edit").click()
    message = page.get_by_text("notes.txt: not an image")
    message.first.wait_for()
    assert "Traceback" not in page.content()


def test_interpolate_and_model_tabs(page, shots):
    page.reload()  # no toast of an earlier test's error in the screenshots
    page.wait_for_selector("#generate")
    page.get_by_role("tab", name="Interpolate").click()
    assert page.get_by_label("From seed").input_value() == page.get_by_label("To seed").input_value() == str(MORPH_SEED)
    page.locator("#interpolate").click()
    page.locator("#animation img").wait_for()
    strip = page.locator("#strip img")
    strip.wait_for()
    assert strip.bounding_box()["width"] <= page.locator("#strip").bounding_box()["width"] + 1  # all frames in view
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(shots / "web_interpolate.png"), full_page=True)
    page.get_by_role("tab", name="Model").click()
    page.get_by_text("parameters").first.wait_for()
    assert "faces128" in page.locator("#model-info").inner_text()
    headers = page.locator("table th").all_inner_texts()
    assert headers and all(h.strip() for h in headers), headers  # every table says what its columns are
    page.screenshot(path=str(shots / "web_model.png"), full_page=True)
