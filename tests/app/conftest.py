"""A live ``facegen serve`` (the bundled model) on a free local port, shared by the API and browser tests."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the app extra is not installed: pip install -e '.[app]'")
httpx = pytest.importorskip("httpx")

CELEBA_FACE = "000001.jpg"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def gradio_uploads(tmp_path_factory) -> Path:
    """Where the server's gradio keeps uploads: a refused upload must leave nothing there."""
    return tmp_path_factory.mktemp("gradio-uploads")


@pytest.fixture(scope="session")
def server(tmp_path_factory, gradio_uploads):
    """``(base_url, process)``; the server's log is printed if it fails to start."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRADIO_TEMP_DIR": str(gradio_uploads)}
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "facegen.cli", "serve", "--port", str(port), "--device", "cpu"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"facegen serve exited with {process.returncode}: {Path(log).read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"facegen serve did not answer in 180 s: {Path(log).read_text()[-2000:]}")
    yield url, process
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def face_photo(celeba_root) -> Path:
    return celeba_root / "img_align_celeba" / CELEBA_FACE
