import pytest
import torch

from facegen.utils import hardware
from facegen.utils.hardware import configure_cpu_threads, cpu_has_native_bf16, resolve_precision

ICE_LAKE = {"avx2": True, "avx512_f": True, "avx512_bf16": False, "amx_bf16": False}  # bf16 measured 2.5x slower
SAPPHIRE_RAPIDS = {"avx2": True, "avx512_f": True, "avx512_bf16": True, "amx_bf16": True}  # bf16 measured 1.9x faster
ZEN4 = {"avx2": True, "avx512_f": True, "avx512_bf16": True, "amx_bf16": False}
OLD_X86 = {"avx2": True}


@pytest.mark.parametrize(
    "caps, expected", [(ICE_LAKE, "fp32"), (SAPPHIRE_RAPIDS, "bf16"), (ZEN4, "bf16"), (OLD_X86, "fp32"), ({}, "fp32")]
)
def test_auto_precision_on_cpu_follows_native_bf16(caps, expected):
    assert resolve_precision("auto", "cpu", caps) == expected
    assert cpu_has_native_bf16(caps) is (expected == "bf16")


def test_explicit_precision_is_kept_and_unknown_is_refused():
    assert resolve_precision("bf16", "cpu", ICE_LAKE) == "bf16"
    assert resolve_precision("fp32", "cpu", SAPPHIRE_RAPIDS) == "fp32"
    with pytest.raises(ValueError, match="mixed_precision='int8'"):
        resolve_precision("int8", "cpu", ICE_LAKE)


def test_auto_precision_on_cuda_asks_the_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", "cuda") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", "cuda") == "fp32"


def test_threads_requested_then_environment_then_usable_cores(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert configure_cpu_threads(2) == 2 and torch.get_num_threads() == 2
        assert configure_cpu_threads() == 1
        monkeypatch.delenv("OMP_NUM_THREADS")
        monkeypatch.setattr(hardware, "usable_cores", lambda: 3)
        assert configure_cpu_threads() == 3
        with pytest.raises(ValueError, match="num_threads=0"):
            configure_cpu_threads(0)
    finally:
        torch.set_num_threads(before)


def test_config_defaults_to_auto_and_validates_threads():
    from facegen.config import ConfigError, load_config

    cfg = load_config(None)
    assert cfg.train.mixed_precision == "auto" and cfg.train.num_threads is None
    with pytest.raises(ConfigError, match="train.num_threads"):
        load_config(None, ["train.num_threads=0"])
