"""Domain errors with a message meant for the user.

Every error the library raises on purpose derives from :class:`CIMError`.  The HTTP layer maps
each class to a status code in one place (``api/errors.py``); the CLI prints ``str(err)``.
``where`` says where the fault is (a request parameter, a file, a feature id, a line) so that
both can point at it.
"""

from __future__ import annotations

from typing import Any


class CIMError(Exception):
    """Base class.  ``message`` is shown to users; ``where`` locates the fault."""

    title = "City model error"

    def __init__(self, message: str, *, where: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where: dict[str, Any] = dict(where or {})

    def __str__(self) -> str:
        if not self.where:
            return self.message
        loc = ", ".join(f"{k}={v}" for k, v in self.where.items())
        return f"{self.message} ({loc})"


class InvalidParameter(CIMError):
    """A query or command parameter is malformed or out of range."""

    title = "Invalid parameter"

    def __init__(self, parameter: str, message: str, **where: Any) -> None:
        super().__init__(message, where={"parameter": parameter, **where})
        self.parameter = parameter


class UnknownCollection(CIMError):
    title = "Unknown collection"

    def __init__(self, collection: str, known: list[str]) -> None:
        super().__init__(
            f"No collection {collection!r}; the collections are {', '.join(known)}.",
            where={"collection": collection},
        )


class FeatureNotFound(CIMError):
    title = "Feature not found"

    def __init__(self, collection: str, fid: str) -> None:
        super().__init__(
            f"No feature {fid!r} in collection {collection!r}.",
            where={"collection": collection, "feature": fid},
        )


class UnknownAnalysis(CIMError):
    """No analysis is registered under the id."""

    title = "Unknown analysis"

    def __init__(self, analysis_id: str, known: list[str]) -> None:
        super().__init__(
            f"No analysis {analysis_id!r}; the analyses are {', '.join(known) or 'none'}.",
            where={"analysis": analysis_id},
        )


class UnsupportedCRS(CIMError):
    title = "Unsupported coordinate reference system"

    def __init__(self, crs: str, supported: list[str], parameter: str = "crs") -> None:
        super().__init__(
            f"CRS {crs!r} is not supported here; use one of: {', '.join(supported)}.",
            where={"parameter": parameter},
        )
        self.parameter = parameter


class InvalidFeature(CIMError):
    """A feature fails validation (on write or import): names the feature and the reason."""

    title = "Invalid feature"


class StoreError(CIMError):
    """The store cannot be opened or written (missing file, wrong schema, not initialised)."""

    title = "Store error"


class DuplicateFeature(InvalidFeature):
    title = "Duplicate feature id"

    def __init__(self, collection: str, fid: str) -> None:
        super().__init__(
            f"Feature {fid!r} already exists in collection {collection!r}; import with --replace (replace=True) "
            "to replace the features whose ids exist.",
            where={"collection": collection, "feature": fid},
        )
