"""2-D position encodings: RoPE rotates, and its scores depend only on relative offsets; sin-cos codes are distinct."""

import pytest
import torch

from facegen.models.positional import apply_rope, grid_positions, rope_2d_cos_sin, sincos_2d_embedding

HEAD_DIM = 16


def rotate_at(x: torch.Tensor, rows: list[int], cols: list[int]) -> torch.Tensor:
    cos, sin = rope_2d_cos_sin(torch.tensor(rows), torch.tensor(cols), HEAD_DIM)
    return apply_rope(x, cos, sin)


def test_rope_preserves_norms():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 25, HEAD_DIM)
    cos, sin = rope_2d_cos_sin(*grid_positions(5), HEAD_DIM)
    rotated = apply_rope(x, cos, sin)
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    assert not torch.allclose(rotated, x)


def test_rope_at_origin_is_identity():
    x = torch.randn(1, HEAD_DIM)
    torch.testing.assert_close(rotate_at(x, [0], [0]), x)


@pytest.mark.parametrize("offset", [(1, 0), (0, 3), (-2, 5), (7, -4)])
def test_rope_score_depends_only_on_relative_position(offset):
    torch.manual_seed(1)
    q, k = torch.randn(1, HEAD_DIM, dtype=torch.float64), torch.randn(1, HEAD_DIM, dtype=torch.float64)
    (r1, c1), (r2, c2), (dr, dc) = (2, 5), (6, 1), offset

    def score(q_pos: tuple[int, int], k_pos: tuple[int, int]) -> torch.Tensor:
        return (rotate_at(q, [q_pos[0]], [q_pos[1]]) * rotate_at(k, [k_pos[0]], [k_pos[1]])).sum()

    base = score((r1, c1), (r2, c2))
    torch.testing.assert_close(score((r1 + dr, c1 + dc), (r2 + dr, c2 + dc)), base, rtol=0, atol=1e-5)
    # Sanity: a different relative offset gives a different score, so the check above is not vacuous.
    assert not torch.isclose(score((r1 + dr, c1 + dc), (r2, c2)), base, atol=1e-4)


def test_rope_rows_and_columns_use_separate_channels():
    x = torch.randn(1, HEAD_DIM)
    moved_row, moved_col = rotate_at(x, [3], [0]), rotate_at(x, [0], [3])
    half = HEAD_DIM // 2
    torch.testing.assert_close(moved_row[:, half:], x[:, half:])  # a row move leaves the column half alone
    torch.testing.assert_close(moved_col[:, :half], x[:, :half])


def test_rope_rejects_head_dim_not_divisible_by_4():
    with pytest.raises(ValueError, match="divisible by 4"):
        rope_2d_cos_sin(*grid_positions(2), head_dim=6)


def test_sincos_table_gives_every_patch_a_distinct_code():
    table = sincos_2d_embedding(grid_size=8, dim=32)
    assert table.shape == (64, 32)
    assert torch.cdist(table, table).add(torch.eye(64)).min() > 1e-3
