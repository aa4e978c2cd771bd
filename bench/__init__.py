"""Benchmark suite for adjoint: ``python -m bench`` (see ``python -m bench --help``)."""
