"""Binbridge: name the functions of stripped binaries."""

__version__ = "0.1.0"
