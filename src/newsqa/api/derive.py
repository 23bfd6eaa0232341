"""Response models derived from the domain's records (:mod:`newsqa.records`), so each type is
defined once: the record's fields, their types and their documented ``description``
(:func:`newsqa.records.doc`) become a pydantic model's, under the name the API gives it.

A record nested in another (an answer's citations) becomes the derived model of that record,
which must be derived first; a fixed-length tuple (a span) is documented as the JSON array it
is written as; a field whose JSON form has another type than the record keeps (a time kept as
Unix seconds and written as ISO 8601) names it in its metadata (:func:`newsqa.records.wire`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

#: Each record derived so far, and its model.
_DERIVED: dict[type, type[BaseModel]] = {}


def response_model(
    record: type,
    name: str | None = None,
    *,
    doc: str | None = None,
    all_required: bool = False,
    examples: list[dict[str, Any]] | None = None,
) -> type[BaseModel]:
    """The pydantic model of the dataclass ``record``, named ``name`` (default: the record's)
    and described by ``doc`` (default: its docstring). A field with a default is optional
    unless ``all_required`` (the response always carries every field). ``examples`` document
    the whole model."""
    hints = get_type_hints(record)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        info: dict[str, Any] = {}
        if "description" in f.metadata:
            info["description"] = f.metadata["description"]
        if not all_required and f.default is not dataclasses.MISSING:
            info["default"] = f.default
        elif not all_required and f.default_factory is not dataclasses.MISSING:
            info["default_factory"] = f.default_factory
        fields[f.name] = (_api_type(f.metadata.get("wire", hints[f.name])), Field(**info))
    extra: dict[str, Any] = {"examples": examples}
    config = ConfigDict(json_schema_extra=extra) if examples else None
    model = create_model(  # type: ignore[call-overload]
        name or record.__name__, __config__=config, __doc__=doc or record.__doc__,
        __module__=__name__, **fields,
    )
    _DERIVED[record] = model
    return typing.cast(type[BaseModel], model)


def _api_type(tp: Any) -> Any:
    """``tp`` with the records in it replaced by their derived models."""
    if tp in _DERIVED:
        return _DERIVED[tp]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        raise TypeError(f"derive the model of {tp.__name__} before the records that hold it")
    origin, args = get_origin(tp), get_args(tp)
    if origin is tuple and args and Ellipsis not in args and len(set(args)) == 1:
        n, item = len(args), _api_type(args[0])
        return Annotated[list[item], Field(min_length=n, max_length=n)]  # type: ignore[misc, valid-type]
    if origin in (Union, types.UnionType):
        return Union[tuple(_api_type(a) for a in args)]  # noqa: UP007 - built at run time
    if origin in (list, dict):
        return origin[tuple(_api_type(a) for a in args)]
    return tp
