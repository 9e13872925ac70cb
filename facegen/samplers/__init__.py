"""Samplers, apart from models: they integrate a field handed to them by an objective."""

from facegen.samplers.ode import ODE_SAMPLERS, sample_ode
from facegen.samplers.schedulers import SCHEDULER_SAMPLERS, invert_ddim, make_scheduler, sample_scheduler

__all__ = ["ODE_SAMPLERS", "SCHEDULER_SAMPLERS", "invert_ddim", "make_scheduler", "sample_ode", "sample_scheduler"]
