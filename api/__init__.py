"""The HTTP service: a thin FastAPI layer over the ``cim`` library."""
