"""Diffusion Transformer (Peebles & Xie, 2023) with AdaLN-Zero blocks, optional 2-D RoPE and qk-norm.

The network predicts a tensor shaped like its input from ``(x, t, cond)``; it never knows which objective trains it.
Conditioning enters only through ``cond_embedder``: a module mapping a ``Condition`` to [B, hidden] that is added to
the timestep embedding ``c``, which drives every AdaLN modulation (``cond=None`` is its ``null_condition``). Blocks
never look inside the condition.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from facegen.conditioning import Condition
from facegen.models.backbone import NO_AUXILIARY, Backbone, with_auxiliary
from facegen.models.positional import apply_rope, grid_positions, rope_2d_cos_sin, sincos_2d_embedding
from facegen.models.registry import register_model
from facegen.specs import preset_with
from facegen.specs.dit import DIT_PRESETS, DiTPreset  # noqa: F401  (the presets live with the torch-free spec)

RopeCosSin = tuple[torch.Tensor, torch.Tensor]

POS_EMBED_KINDS = ("sincos", "learned", "none")


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """AdaLN: per-sample shift/scale [B, D] applied to every token of x [B, N, D]."""
    return x * (1 + scale[:, None]) + shift[:, None]


class TimestepEmbedder(nn.Module):
    """t in [0, 1] -> [B, hidden]: sinusoidal features of ``t * 1000`` (DiT's timestep range) through an MLP."""

    def __init__(self, hidden_size: int, frequency_dim: int = 256) -> None:
        super().__init__()
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))

    def sinusoidal(self, t: torch.Tensor, max_period: float = 10000.0) -> torch.Tensor:
        half = self.frequency_dim // 2
        frequencies = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        angles = t.float()[:, None] * 1000 * frequencies[None]
        return torch.cat([angles.cos(), angles.sin()], dim=-1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        features = self.sinusoidal(t)
        return self.mlp(features.to(self.mlp[0].weight.dtype))


class Attention(nn.Module):
    """Multi-head self-attention: fused qkv, optional per-head RMSNorm on q and k, optional RoPE, fused SDPA kernel."""

    def __init__(self, hidden_size: int, num_heads: int, qk_norm: bool = False) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        # qk-norm bounds attention logits, which keeps large models stable at high learning rates.
        self.q_norm = nn.RMSNorm(self.head_dim, eps=1e-6) if qk_norm else nn.Identity()
        self.k_norm = nn.RMSNorm(self.head_dim, eps=1e-6) if qk_norm else nn.Identity()
        self.proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor, rope: RopeCosSin | None = None) -> torch.Tensor:
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).view(batch, tokens, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, N, head_dim]
        q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, -1))


class BlockModulation(NamedTuple):
    shift_attn: torch.Tensor
    scale_attn: torch.Tensor
    gate_attn: torch.Tensor
    shift_mlp: torch.Tensor
    scale_mlp: torch.Tensor
    gate_mlp: torch.Tensor


class DiTBlock(nn.Module):
    """Self-attention then MLP, each a gated residual branch modulated by c (AdaLN-Zero).

    The two branches are separate methods so a wrapper can compose extra sublayers between them (e.g. text
    cross-attention: ``m = block.modulation(c); x = block.attention_step(x, m, rope); x = x + cross(x, tokens);
    x = block.mlp_step(x, m)``) without editing this class.
    """

    def __init__(self, hidden_size: int, num_heads: int, mlp_dim: int, qk_norm: bool = False) -> None:
        super().__init__()
        self.hidden_size = hidden_size  # the width of what it returns (a video model's temporal layer reads it)
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads, qk_norm=qk_norm)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(hidden_size, mlp_dim), nn.GELU(approximate="tanh"), nn.Linear(mlp_dim, hidden_size)
        )
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def modulation(self, c: torch.Tensor) -> BlockModulation:
        return BlockModulation(*self.adaLN_modulation(c).chunk(6, dim=-1))

    def attention_step(self, x: torch.Tensor, m: BlockModulation, rope: RopeCosSin | None) -> torch.Tensor:
        return x + m.gate_attn[:, None] * self.attn(modulate(self.norm1(x), m.shift_attn, m.scale_attn), rope)

    def mlp_step(self, x: torch.Tensor, m: BlockModulation) -> torch.Tensor:
        return x + m.gate_mlp[:, None] * self.mlp(modulate(self.norm2(x), m.shift_mlp, m.scale_mlp))

    def forward(self, x: torch.Tensor, c: torch.Tensor, rope: RopeCosSin | None = None) -> torch.Tensor:
        m = self.modulation(c)
        return self.mlp_step(self.attention_step(x, m, rope), m)


class FinalLayer(nn.Module):
    """Modulated LayerNorm then a linear map from each token to its patch of pixels (p * p * C values)."""

    def __init__(self, hidden_size: int, patch_size: int, out_channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class DiT(Backbone):
    """``net(x [B, C, H, W], t [B] in [0, 1], cond=None, r=None) -> [B, C, H, W]``; exactly zero at initialisation.

    ``two_time``: a second timestep embedder reads ``r`` (``r=None``: ``r = t``) and its embedding is added to
    t's; it is built after every other layer, so the rest initialises exactly as a one-time DiT's.
    """

    def __init__(
        self,
        image_size: int = 32,
        in_channels: int = 3,
        patch_size: int = 2,
        hidden_size: int = 384,
        depth: int = 12,
        num_heads: int = 6,
        mlp_dim: int | None = None,  # None: 4 * hidden_size
        pos_embed: str = "sincos",
        rope: bool = True,
        qk_norm: bool = False,
        cond_embedder: nn.Module | None = None,
        grad_checkpointing: bool = False,
        long_skip: bool = False,
        two_time: bool = False,
    ) -> None:
        super().__init__()
        _check_architecture(image_size, patch_size, hidden_size, num_heads, pos_embed, rope)
        self.image_size = image_size
        self.in_channels = in_channels
        self.patch_size = patch_size
        self.grid_size = image_size // patch_size
        self.grad_checkpointing = grad_checkpointing

        self.patch_embed = nn.Conv2d(in_channels, hidden_size, kernel_size=patch_size, stride=patch_size)
        num_tokens = self.grid_size**2
        if pos_embed == "sincos":
            # Recomputed at construction, so kept out of checkpoints.
            table = sincos_2d_embedding(self.grid_size, hidden_size)[None]
            self.register_buffer("pos_embed", table, persistent=False)
        elif pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, hidden_size))
        else:
            self.register_buffer("pos_embed", None)
        if rope:
            cos, sin = rope_2d_cos_sin(*grid_positions(self.grid_size), hidden_size // num_heads)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        else:
            self.register_buffer("rope_cos", None)
            self.register_buffer("rope_sin", None)

        self.t_embedder = TimestepEmbedder(hidden_size)
        mlp_dim = 4 * hidden_size if mlp_dim is None else mlp_dim
        self.blocks = nn.ModuleList(DiTBlock(hidden_size, num_heads, mlp_dim, qk_norm) for _ in range(depth))
        # U-ViT long skips (Bao et al., 2023): block i of the second half also sees the output of its mirror block
        # in the first half, concatenated and projected back to the hidden width.
        self.skip_proj = (
            nn.ModuleList(nn.Linear(2 * hidden_size, hidden_size) for _ in range(depth // 2)) if long_skip else None
        )
        self.final_layer = FinalLayer(hidden_size, patch_size, in_channels)
        self._initialize_weights()
        # Assigned after initialisation: an embedder brings its own init, which the DiT must not overwrite.
        self.cond_embedder = cond_embedder
        self.two_time = two_time
        self.r_embedder = TimestepEmbedder(hidden_size) if two_time else None
        for layer in (self.r_embedder.mlp[0], self.r_embedder.mlp[2]) if two_time else ():
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

    def _initialize_weights(self) -> None:
        def xavier_linear(module: nn.Module) -> None:
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

        self.apply(xavier_linear)
        for proj in self.skip_proj or ():  # start as the identity on the main path: the skip opens while training
            nn.init.zeros_(proj.weight)
            proj.weight.data[:, : proj.out_features].copy_(torch.eye(proj.out_features))
        # The patch projection is a linear map on flattened patches; initialise it as one.
        nn.init.xavier_uniform_(self.patch_embed.weight.view(self.patch_embed.weight.shape[0], -1))
        nn.init.zeros_(self.patch_embed.bias)
        if isinstance(self.pos_embed, nn.Parameter):
            nn.init.normal_(self.pos_embed, std=0.02)
        for layer in (self.t_embedder.mlp[0], self.t_embedder.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
        # AdaLN-Zero: every residual branch starts closed and the output projection starts at zero,
        # so the untrained network is the zero function and each block starts as the identity.
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        for layer in (self.final_layer.adaLN_modulation[-1], self.final_layer.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, N, hidden] tokens in row-major patch order."""
        return self.patch_embed(x).flatten(2).transpose(1, 2)

    def unpatchify(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, N, p * p * C] -> [B, C, H, W]."""
        g, p, channels = self.grid_size, self.patch_size, self.in_channels
        patches = tokens.reshape(tokens.shape[0], g, g, p, p, channels)
        return patches.permute(0, 5, 1, 3, 2, 4).reshape(tokens.shape[0], channels, g * p, g * p)

    def forward(self, x: Tensor, t: Tensor, cond: Condition | None = None, r: Tensor | None = None, return_aux=False):
        """-> prediction shaped like x; with ``return_aux`` (prediction, auxiliary loss, parts): see Backbone."""
        self.check_inputs(x, r)
        tokens = self.patchify(x)
        if self.pos_embed is not None:
            tokens = tokens + self.pos_embed
        c = self.t_embedder(t)
        if self.r_embedder is not None:
            c = c + self.r_embedder(t if r is None else r)
        auxiliary = NO_AUXILIARY
        if self.cond_embedder is not None:
            if cond is None:  # the unconditional prediction is the one trained: on the embedder's null condition
                cond = self.cond_embedder.null_condition(x.shape[0], x.device)
            vector, auxiliary = self.embed_condition("__call__", cond, return_aux)
            c = c + vector
        rope = None if self.rope_cos is None else (self.rope_cos, self.rope_sin)
        skips: list[torch.Tensor] = []
        first_skip_block = len(self.blocks) - len(self.skip_proj or ())
        for index, block in enumerate(self.blocks):
            if self.skip_proj is not None:
                if index < len(self.skip_proj):
                    skips.append(tokens)
                elif index >= first_skip_block:
                    tokens = self.skip_proj[index - first_skip_block](torch.cat([tokens, skips.pop()], dim=-1))
            if self.grad_checkpointing and torch.is_grad_enabled():
                # Recompute activations in backward: trades ~30% more compute for memory linear in depth.
                tokens = checkpoint(block, tokens, c, rope, use_reentrant=False)
            else:
                tokens = block(tokens, c, rope)
        return with_auxiliary(self.unpatchify(self.final_layer(tokens, c)), auxiliary, return_aux)


def _check_architecture(
    image_size: int, patch_size: int, hidden_size: int, num_heads: int, pos_embed: str, rope: bool
) -> None:
    """Fail at construction with the sizes named, rather than with a reshape error in the first forward."""
    if pos_embed not in POS_EMBED_KINDS:
        raise ValueError(f"unknown pos_embed {pos_embed!r}; choose from {list(POS_EMBED_KINDS)}")
    if image_size % patch_size != 0:
        raise ValueError(f"image_size {image_size} is not divisible by patch_size {patch_size}")
    if hidden_size % num_heads != 0:
        raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
    head_dim = hidden_size // num_heads
    if rope and head_dim % 4 != 0:
        raise ValueError(
            f"2-D RoPE needs head_dim (hidden_size / num_heads = {hidden_size} / {num_heads} = {head_dim}) "
            "divisible by 4; change the sizes or set rope=False"
        )


@register_model("dit")
def build_dit(
    *,
    image_size: int,
    in_channels: int,
    cond_embedder: nn.Module | None = None,
    size: str = "small",
    patch_size: int = 2,
    pos_embed: str = "sincos",
    rope: bool = True,
    qk_norm: bool = False,
    grad_checkpointing: bool = False,
    hidden_size: int | None = None,
    depth: int | None = None,
    num_heads: int | None = None,
    mlp_dim: int | None = None,
    long_skip: bool = False,
    two_time: bool = False,
) -> DiT:
    """A DiT from a size preset; each of hidden_size/depth/num_heads/mlp_dim overrides the preset when not None."""
    preset = preset_with(DIT_PRESETS, size, "DiT", hidden_size=hidden_size, depth=depth, num_heads=num_heads,
                         mlp_dim=mlp_dim)  # fmt: skip
    return DiT(image_size=image_size, in_channels=in_channels, patch_size=patch_size, pos_embed=pos_embed, rope=rope,
               qk_norm=qk_norm, cond_embedder=cond_embedder, grad_checkpointing=grad_checkpointing,
               long_skip=long_skip, two_time=two_time, **preset)  # fmt: skip
