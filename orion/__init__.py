"""Orionis: record what programs do, then list, show, replay and compare their executions."""

__version__ = "0.1.0"
