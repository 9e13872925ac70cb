"""The web page's Edit tab through gradio's own client (no browser needed): what a person sees and downloads."""

import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")


def test_the_edit_tab_shows_the_photo_before_and_after_and_names_the_download(server, shared_dir):
    url, _ = server
    photo = sorted((shared_dir / "data" / "celebamask-hq-512").glob("*.jpg"))[1]
    client = gradio_client.Client(url, verbose=False)
    before, after, note, download, seen, rebuilt, changed = client.predict(
        gradio_client.handle_file(str(photo)), ["Smiling"], [], "recommended", api_name="/edit_photo"
    )
    assert Image.open(before).size == Image.open(after).size == (512, 512)  # the photo's resolution, side by side
    assert Image.open(download).size == (512, 512) and download.endswith(f"{photo.stem}-smiling.png")
    assert "aligned like CelebA" in note and "strength" in note
    assert {Image.open(face).size for face in (seen, rebuilt, changed)} == {(128, 128)}
