"""The values ``conditioning.type`` may take: the one table config validation reads. Torch-free, so loading a config
stays fast; each conditioning kind (``facegen.conditioning.kinds``) registers the name it is chosen by here."""

# The built-in kinds' names; register_kind adds a new kind's (before a config naming it is loaded).
CONDITIONING_TYPES: list[str] = ["none", "attributes", "text"]


def register_type(name: str) -> None:
    if name not in CONDITIONING_TYPES:
        CONDITIONING_TYPES.append(name)
