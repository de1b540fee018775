"""The version of dualdiff: one source, read by the package and its build."""

__version__ = "0.1.0"
