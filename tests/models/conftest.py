import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # These models are tiny: a second thread buys nothing and only contends for the shared cores.
    torch.set_num_threads(1)
