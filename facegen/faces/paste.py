"""An edited face pasted back into the photo it was aligned from: only the edit's change, at full resolution.

pasted = paste_change("photo.jpg", edited, reconstruction, face.transform)  # the photo with the edit's change
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facegen.faces.align import apply_transform, frame_transform, inverse_transform
from facegen.faces.photos import load_photo

# The face itself (brows to chin, cheek to cheek) as an ellipse in the 178x218 frame: centre x, y and half axes.
# It is always pasted, so an edit that moves the whole face (age, sex) is not cut to where the change is largest.
FACE_ELLIPSE = (89.0, 142.0, 56.0, 66.0)
CHANGE_LOW, CHANGE_HIGH = 0.05, 0.12  # mean |edited - reconstruction| ([-1, 1] units): from not changed to changed


def _frame_tensor(image: Image.Image | torch.Tensor) -> torch.Tensor:
    """An aligned face (PIL, or [3, H, W] / [1, 3, H, W] in [-1, 1]) -> [3, H, W] float in [-1, 1]."""
    if isinstance(image, Image.Image):
        image = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).float() / 127.5 - 1
    return image.reshape(image.shape[-3:]).float().cpu()


def face_region(size: tuple[int, int], to_frame: np.ndarray) -> torch.Tensor:
    """FACE_ELLIPSE [H, W] (bool) in an aligned image of ``size`` whose pixels ``to_frame`` maps to the frame."""
    ys, xs = torch.meshgrid(torch.arange(size[1]) + 0.5, torch.arange(size[0]) + 0.5, indexing="ij")
    fx, fy = apply_transform(to_frame, torch.stack([xs.flatten(), ys.flatten()], 1).double().numpy()).T
    cx, cy, ax, ay = FACE_ELLIPSE
    return torch.from_numpy((((fx - cx) / ax) ** 2 + ((fy - cy) / ay) ** 2 < 1).reshape(size[1], size[0]))


def _feather(width: int) -> tuple[int, float]:
    """The Gaussian (kernel, sigma) the change mask and the colour match blur with: 2% of the face's width."""
    sigma = 0.02 * width
    return 2 * round(3 * sigma) + 1, sigma


def tint_drift(change: torch.Tensor, to_frame: np.ndarray) -> torch.Tensor:
    """The sampler's colour drift in a change [3, H, W]: its median over the face, and its median over the rest of
    the crop, blended by a feathered face region. Most of a face, and most of its surroundings, keep their colour
    under any one edit, so a median there is drift, not the edit; the model often tints the face one way and the
    background another, and one median for both would paste the face's drift, reversed, into the background."""
    from torchvision.transforms.functional import gaussian_blur

    height, width = change.shape[-2:]
    face = face_region((width, height), to_frame)
    weight = gaussian_blur(face.float()[None], *_feather(width))[0]
    on_face, elsewhere = (change[:, region].median(1).values[:, None, None] for region in (face, ~face))
    return on_face * weight + elsewhere * (1 - weight)


def change_mask(change: torch.Tensor, to_frame: np.ndarray) -> torch.Tensor:
    """Where to apply a change [3, H, W]: soft 0..1 [H, W], 1 where it changed or on the face, 0 at the border."""
    from torchvision.transforms.functional import gaussian_blur

    height, width = change.shape[-2:]
    kernel, sigma = _feather(width)
    amount = gaussian_blur(change.abs().mean(0, keepdim=True), kernel, sigma)[0]  # speckle is not a change
    changed = ((amount - CHANGE_LOW) / (CHANGE_HIGH - CHANGE_LOW)).clamp(0, 1)
    face = face_region((width, height), to_frame).float()
    mask = gaussian_blur(torch.maximum(changed, face)[None], 2 * kernel + 1, 2 * sigma)[0]  # feathered: no seam
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    border = torch.minimum(torch.minimum(ys, height - ys), torch.minimum(xs, width - xs))
    return mask * (border / (4 * sigma)).clamp(max=1)  # fades out before the frame's edge


def paste_change(
    photo: str | Path | Image.Image,
    edited: Image.Image | torch.Tensor,
    reconstruction: Image.Image | torch.Tensor,
    transform: np.ndarray,
) -> Image.Image:
    """The photo with the change an edit made, at the photo's own resolution and with its own pixels elsewhere.

    ``edited`` and ``reconstruction`` are aligned faces of one size (the 178x218 frame at any scale, or its square
    crop at any size, as facegen models make them): the same inversion regenerated under the target and under
    the source attributes, so their difference is the edit alone, without the model's reconstruction error. That
    difference, less its colour drift (``tint_drift``: its medians on and off the face), is warped back through
    ``transform`` (``Alignment.transform``) and added to the photo inside ``change_mask``. The photo's own
    detail stays, and pixels where the mask has faded out (always beyond the model's crop) keep their values.
    """
    photo = load_photo(photo)
    edited, reconstruction = _frame_tensor(edited), _frame_tensor(reconstruction)
    if edited.shape != reconstruction.shape:
        raise ValueError(f"paste_change: edited {tuple(edited.shape)} and reconstruction differ in shape")
    size = (edited.shape[-1], edited.shape[-2])
    frame = frame_transform(size)
    if frame is None:
        raise ValueError(
            f"paste_change: the edited face is {size[0]}x{size[1]}; expected CelebA's aligned frame "
            "(178:218, any scale) or a square crop of it"
        )
    change = edited - reconstruction
    change = change - tint_drift(change, frame)
    mask = change_mask(change, frame)
    to_face = inverse_transform(frame) @ np.vstack([transform, [0.0, 0.0, 1.0]])  # photo pixel -> face image pixel
    corners = apply_transform(inverse_transform(to_face), np.array([[0, 0], [size[0], 0], [0, size[1]], size]))
    left, top = np.clip(np.floor(corners.min(0)), 0, None).astype(int)
    right, bottom = np.minimum(np.ceil(corners.max(0)).astype(int), photo.size)
    if right <= left or bottom <= top:
        return photo  # the face lies outside the photo: nothing to change
    # Only the face's footprint is resampled (a 24-megapixel photo is not), with grid_sample's pixel convention.
    ys, xs = torch.meshgrid(torch.arange(top, bottom) + 0.5, torch.arange(left, right) + 0.5, indexing="ij")
    points = apply_transform(to_face, torch.stack([xs.flatten(), ys.flatten()], 1).double().numpy())
    grid = torch.from_numpy(points / np.array(size) * 2 - 1).float().reshape(1, bottom - top, right - left, 2)
    warped = torch.nn.functional.grid_sample(
        (change * mask)[None], grid, mode="bicubic", padding_mode="zeros", align_corners=False
    )
    delta = (warped[0] * 127.5).permute(1, 2, 0).numpy()
    pixels = np.asarray(photo, dtype=np.float32).copy()
    pixels[top:bottom, left:right] += delta
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))
