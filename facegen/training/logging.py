"""Where a run reports: TensorBoard (``logs/``) and ``metrics.jsonl``, one JSON object per logged step."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch


class RunLogger:
    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.metrics_path = run_dir / "metrics.jsonl"
        if resume_step is not None:
            self._truncate_after(resume_step)
        # purge_step drops TensorBoard events a crashed run wrote after its last checkpoint.
        self.writer = SummaryWriter(str(run_dir / "logs"), purge_step=None if resume_step is None else resume_step + 1)

    def _truncate_after(self, step: int) -> None:
        """A resumed run starts from its checkpoint: forget what was logged after it."""
        if not self.metrics_path.exists():
            return
        kept = [
            line for line in self.metrics_path.read_text().splitlines() if line and json.loads(line)["step"] <= step
        ]
        self.metrics_path.write_text("".join(line + "\n" for line in kept))

    def scalars(self, step: int, values: dict[str, float], prefix: str = "train") -> None:
        for name, value in values.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(f"{prefix}/{name}", value, step)
        names = values if prefix == "train" else {f"{prefix}/{k}": v for k, v in values.items()}
        with self.metrics_path.open("a") as handle:
            handle.write(json.dumps({"step": step, **names}) + "\n")

    def image(self, step: int, tag: str, image: torch.Tensor) -> None:
        """``image``: one [-1, 1] picture [3, H, W] (a grid or a trajectory strip)."""
        self.writer.add_image(tag, (image.float().clamp(-1, 1) + 1) / 2, step)

    def close(self) -> None:
        self.writer.close()
