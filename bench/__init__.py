"""Benchmarks of the CIM service on the sample city: ``python -m bench`` (``make bench``).

See ``bench/__main__.py`` for the command and ``bench/common.py`` for how a suite is written.
"""
