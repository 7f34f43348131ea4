"""Readers for city data files, registered by format (``cim.io.registry``), and the importer."""

from .base import ImportContext, ImportError_, ImportResult, Reader
from .importer import ImportReport, import_files
from .registry import READERS, detect, read, register

__all__ = [
    "ImportContext",
    "ImportError_",
    "ImportResult",
    "Reader",
    "ImportReport",
    "import_files",
    "READERS",
    "detect",
    "read",
    "register",
]
