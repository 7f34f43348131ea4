"""The sensor layer's errors: the library's error classes (the HTTP layer answers with problem+json)."""

from __future__ import annotations

from ..errors import FeatureNotFound, InvalidParameter


class EntityNotFound(FeatureNotFound):
    """No SensorThings entity with that id (HTTP 404)."""

    title = "Entity not found"

    def __init__(self, entity_set: str, entity_id: int | str) -> None:
        super().__init__(entity_set, str(entity_id))
        self.message = f"No entity {entity_set}({entity_id})."
        self.args = (self.message,)
        self.where = {"entity": f"{entity_set}({entity_id})"}


def bad(parameter: str, message: str, **where: object) -> InvalidParameter:
    """An InvalidParameter (HTTP 400) naming the query option or body field at fault."""
    return InvalidParameter(parameter, message, **where)
