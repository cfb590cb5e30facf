"""Orionis: record what programs do, then list, show, replay and compare their executions.

PYTEST_DONT_REWRITE: a traced process imports this package before pytest starts, and
pytest (which loads orion.pytest_plugin) would otherwise warn that it cannot rewrite it.
"""

__version__ = "0.1.0"
