"""Samplers, apart from models: they integrate a field handed to them by an objective."""

from facegen.samplers.ode import ODE_SAMPLERS, sample_ode

__all__ = ["ODE_SAMPLERS", "sample_ode"]
