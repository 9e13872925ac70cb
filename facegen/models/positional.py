"""Position encodings for a square grid of patch tokens, flattened row-major (token n sits at row n // g, column n % g).

Two kinds: an absolute 2-D sin-cos table added to the tokens (as in DiT), and 2-D rotary embeddings (RoPE) that
rotate queries and keys so attention scores depend only on the relative offset between two patches.
"""

from __future__ import annotations

import torch


def grid_positions(grid_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column index of each token of a ``grid_size`` x ``grid_size`` grid, each [grid_size**2]."""
    index = torch.arange(grid_size * grid_size)
    return index // grid_size, index % grid_size


def _sincos_1d(positions: torch.Tensor, dim: int) -> torch.Tensor:
    frequencies = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim // 2))
    angles = positions.to(torch.float64)[:, None] * frequencies[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_2d_embedding(grid_size: int, dim: int) -> torch.Tensor:
    """Fixed [grid_size**2, dim] table: the first half of the channels encodes the row, the second the column."""
    if dim % 4 != 0:
        raise ValueError(f"2-D sin-cos embedding needs dim divisible by 4, got {dim}")
    rows, cols = grid_positions(grid_size)
    table = torch.cat([_sincos_1d(rows, dim // 2), _sincos_1d(cols, dim // 2)], dim=1)
    return table.float()  # built in float64 so large grids keep exact angles, stored as float32


def rope_2d_cos_sin(
    rows: torch.Tensor, cols: torch.Tensor, head_dim: int, theta: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles, each [N, head_dim // 2], one angle per rotated channel pair.

    The first half of the pairs rotate with the row coordinate, the second half with the column coordinate,
    each half with its own geometric ladder of ``head_dim // 4`` frequencies.
    """
    if head_dim % 4 != 0:
        raise ValueError(f"2-D RoPE needs head_dim divisible by 4 (rows and columns each rotate pairs), got {head_dim}")
    quarter = head_dim // 4
    frequencies = 1.0 / theta ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    angles = torch.cat(
        [rows.to(torch.float64)[:, None] * frequencies, cols.to(torch.float64)[:, None] * frequencies], dim=1
    )
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each channel pair (2i, 2i + 1) of x [..., N, head_dim] by its angle; cos, sin: [N, head_dim // 2]."""
    # Rotate in at least float32: bf16 angles would blur the fine positions the high frequencies encode.
    compute_dtype = torch.promote_types(x.dtype, cos.dtype)
    even, odd = x.to(compute_dtype).unflatten(-1, (-1, 2)).unbind(-1)
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
    return rotated.flatten(-2).to(x.dtype)
