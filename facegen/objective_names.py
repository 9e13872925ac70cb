"""Which predictions each objective trains and which samplers it allows, read from the registered objective specs
(``facegen.specs``): what config validation, the CLI choices and the objectives read. Torch-free.

The first prediction and the first sampler of each objective are its defaults.
"""

from collections.abc import Iterator, Mapping

from facegen.specs import OBJECTIVES, all_samplers, objective_spec, sampler_problem


class _Choices(Mapping):
    """``OBJECTIVE_CHOICES[name]["prediction" / "sampler"]``: a live view of the registered specs."""

    def __getitem__(self, name: str) -> dict[str, tuple[str, ...]]:
        spec = OBJECTIVES[name]
        return {"prediction": spec.predictions, "sampler": spec.samplers}

    def __iter__(self) -> Iterator[str]:
        return iter(OBJECTIVES)

    def __len__(self) -> int:
        return len(OBJECTIVES)


OBJECTIVE_CHOICES: Mapping[str, dict[str, tuple[str, ...]]] = _Choices()

ALL_SAMPLERS = all_samplers()  # the shipped objectives' samplers (the CLI's --sampler choices)


def default_sampler(objective: str) -> str:
    return objective_spec(objective).samplers[0]


def predictions(objective: str) -> tuple[str, ...]:
    return objective_spec(objective).predictions


__all__ = [
    "ALL_SAMPLERS",
    "OBJECTIVES",
    "OBJECTIVE_CHOICES",
    "all_samplers",
    "default_sampler",
    "predictions",
    "sampler_problem",
]
