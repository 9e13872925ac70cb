"""What both caches (pixels, latents) share: named arrays, memory-mapped on the host or whole on an accelerator,
and one gather of a batch's rows from either.

On CUDA a cache that fits is copied to the device once (``to``), so a training batch is an index on the device:
no host read, no blocking host-to-device copy per step. One that does not fit stays memory-mapped, and
``facegen.data.prefetch.Prefetcher`` gathers and copies its batches ahead on a thread (pinned, non-blocking).
On the CPU the memory maps stay: the OS pages them in.
"""

from __future__ import annotations

import numpy as np
import torch

_COPY_ROWS = 4096  # rows per host-to-device copy while loading: bounds the host memory it takes
DEVICE_SHARE = 0.5  # at most this share of the device's free memory goes to a cache: the model needs the rest


class CachedArrays:
    """Base of ``ImageCache`` and ``EncodedCache``: ``array_names`` are attributes holding arrays (or None)."""

    array_names: tuple[str, ...] = ()
    device = torch.device("cpu")

    def nbytes(self) -> int:
        return sum(array.nbytes for array in self._arrays().values())

    def _arrays(self) -> dict[str, np.ndarray | torch.Tensor]:
        return {name: getattr(self, name) for name in self.array_names if getattr(self, name) is not None}

    def to(self, device: torch.device | str) -> bool:
        """Copy every array onto a CUDA ``device`` when the cache fits in ``DEVICE_SHARE`` of its free memory;
        whether it moved. Other devices keep reading the host memory maps."""
        device = torch.device(device)
        if device.type != "cuda":
            return False
        if self.device != device:
            if self.nbytes() > DEVICE_SHARE * torch.cuda.mem_get_info(device)[0]:
                return False
            self.load_onto(device)
        return True

    def load_onto(self, device: torch.device) -> None:
        """Replace every array with a tensor on ``device``, copied a block of rows at a time."""
        for name, array in self._arrays().items():
            moved = torch.empty(array.shape, dtype=torch.from_numpy(np.empty(0, array.dtype)).dtype, device=device)
            for start in range(0, len(array), _COPY_ROWS):
                moved[start : start + _COPY_ROWS] = torch.from_numpy(np.array(array[start : start + _COPY_ROWS]))
            setattr(self, name, moved)
        self.device = device

    def rows(
        self, array: np.ndarray | torch.Tensor, indices: np.ndarray | torch.Tensor, which: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``array[indices]`` (or ``array[indices, which]``) as a tensor on the cache's device."""
        if isinstance(array, torch.Tensor):
            index = torch.as_tensor(indices, device=array.device)
            return array[index] if which is None else array[index, which.to(array.device, torch.long)]
        index = indices.cpu().numpy() if isinstance(indices, torch.Tensor) else np.asarray(indices, dtype=np.int64)
        picked = array[index] if which is None else array[index, which.cpu().numpy().astype(np.int64)]
        return torch.from_numpy(np.ascontiguousarray(picked))
