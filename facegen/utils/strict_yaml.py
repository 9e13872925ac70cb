"""YAML as facegen reads it from strangers: safe types, no aliases, no repeated keys, a bounded size.

Aliases are refused because nested ones expand exponentially (a 1 KB "billion laughs" config took minutes and
gigabytes to load); a config never needs them. A repeated key is refused because YAML keeps only the last one
silently. Failures are ``yaml.MarkedYAMLError`` with the line and column, like PyYAML's own syntax errors.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

MAX_YAML_BYTES = 1 << 20  # configs are a few KB


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"alias *{event.anchor} refused: write the value out instead", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in first_line:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} repeated (first on line {first_line[key]})", key_node.start_mark
                )
            if isinstance(key, Hashable):
                first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load(text: str) -> Any:
    """``yaml.safe_load`` without aliases or repeated keys; a ValueError when ``text`` is over MAX_YAML_BYTES."""
    if len(text) > MAX_YAML_BYTES:
        raise ValueError(f"{len(text) / 2**20:.1f} MiB of YAML; a config is at most {MAX_YAML_BYTES >> 20} MiB")
    return yaml.load(text, Loader=_StrictLoader)
