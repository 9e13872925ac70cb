"""--compile reaches FacePipeline.load for every command that loads a model.

Compiled sampling itself is tested in tests/test_pipeline_settings.py."""

import pytest

from facegen import cli
from facegen.pipeline import FacePipeline


class Loaded(Exception):
    pass


@pytest.mark.parametrize(
    "command", [["sample"], ["interpolate", "--seeds", "1", "2"], ["serve"], ["eval", "--metrics", "fid"]]
)
@pytest.mark.parametrize("flag", [True, False])
def test_compile_flag_reaches_the_pipeline(command, flag, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)  # the default --out is relative: a user's own samples/ must not change the test
    seen = {}

    def load(*args, **kwargs):
        seen.update(kwargs)
        raise Loaded("stop before any work")

    monkeypatch.setattr(FacePipeline, "load", load)
    assert cli.main([*command, *(["--compile"] if flag else [])]) != 0
    assert seen["compile"] is flag
