"""`facegen serve` refuses what it cannot do in one line, before the model loads."""

import socket

import pytest

from facegen.cli import EXIT_BAD_INPUT, main

pytest.importorskip("gradio", reason="the app extra is not installed")


def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("facegen: error: "), lines
    return lines[0]


def test_other_interfaces_need_an_explicit_flag(capsys):
    assert main(["serve", "--host", "0.0.0.0"]) == EXIT_BAD_INPUT
    assert "--allow-remote" in _error(capsys)


def test_a_taken_port_is_refused_before_loading(capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == EXIT_BAD_INPUT
    message = _error(capsys)
    assert f"--port {port}: cannot listen there" in message and "choose another --port" in message


def test_a_missing_subject_file_is_named(capsys, tmp_path):
    missing = tmp_path / "alice.safetensors"
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    assert main(["serve", "--port", str(port), "--subject", str(missing)]) == EXIT_BAD_INPUT
    assert "alice.safetensors" in _error(capsys)
