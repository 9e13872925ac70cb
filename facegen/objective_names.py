"""Which predictions each objective trains and which samplers it allows: the one table that config validation,
the CLI choices and the objectives read. Torch-free, so loading a config or parsing arguments stays fast.

The first prediction and the first sampler of each objective are its defaults.
"""

OBJECTIVE_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "rectified_flow": {"prediction": ("velocity", "x"), "sampler": ("heun", "euler", "dopri5")},
    "ddpm": {"prediction": ("eps", "v"), "sampler": ("ddim", "ddpm", "dpm++")},
}
ALL_SAMPLERS = tuple(name for choices in OBJECTIVE_CHOICES.values() for name in choices["sampler"])


def default_sampler(objective: str) -> str:
    return OBJECTIVE_CHOICES[objective]["sampler"][0]


def sampler_problem(objective: str, sampler: str) -> str | None:
    """Why ``sampler`` cannot sample an ``objective`` model (None when it can)."""
    allowed = OBJECTIVE_CHOICES[objective]["sampler"]
    if sampler in allowed:
        return None
    owner = next((name for name, choices in OBJECTIVE_CHOICES.items() if sampler in choices["sampler"]), None)
    why = f"a {owner} sampler" if owner else "an unknown sampler"
    return f"{sampler!r} is {why}; {objective} samples with one of {list(allowed)}"
