"""facegen: train, sample, evaluate and edit generative models of human faces."""

__version__ = "0.1.0"
