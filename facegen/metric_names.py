"""Metric names used in reports, configs and the CLI, and which direction is better (for best-checkpoint choice)."""

FID = "fid"
KID = "kid"
FD_ATTR = "fd_attr"
KID_ATTR = "kid_attr"
ATTR_CONSISTENCY = "attr_consistency"
CLIP_SCORE = "clip_score"
FD_FACE = "fd_face"  # Frechet distance in dlib's face-descriptor space: sees malformed eyes, mouths and noses
IDENTITY = "identity"  # dlib face-descriptor distance to a reference person's photos (with identity_kept)

ALL_METRICS = (FID, KID, FD_ATTR, KID_ATTR, FD_FACE, ATTR_CONSISTENCY, CLIP_SCORE, IDENTITY)
LOWER_IS_BETTER = frozenset({FID, KID, FD_ATTR, KID_ATTR, FD_FACE, IDENTITY})
HIGHER_IS_BETTER = frozenset({ATTR_CONSISTENCY, CLIP_SCORE})


def is_better(metric: str, new: float, old: float) -> bool:
    """Whether ``new`` beats ``old`` for ``metric`` (ties are not better)."""
    if metric not in ALL_METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {list(ALL_METRICS)}")
    return new < old if metric in LOWER_IS_BETTER else new > old
