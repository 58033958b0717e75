"""Typed settings, checked on load: the bottom layer every config section is built on.

A settings section is a dataclass whose fields carry their type and, in their
metadata, a range check (`check`, or the shorthands `weight`, `positive`, ...).
`build_section` turns a mapping into such a dataclass and stops at the first unknown
key or bad value with a `ConfigError` naming its key path, e.g.
``config key 'distill.kd.temperature' must be > 0, got -1 (configs/x.yaml)``.
`fdkd_tf.config` assembles the experiment from these sections; each distillation
method declares its own next to its distiller.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Literal

class ConfigError(ValueError):
    """A configuration file or override is invalid; the message says where."""


def _positive(value):
    return value > 0


def _non_negative(value):
    return value >= 0


def _fraction(value):
    return 0.0 < value < 1.0


def _in_unit_interval(value):
    return 0.0 <= value < 1.0


# Range checks: key name -> (predicate, description). Looked up by field metadata.
def _check(predicate, description):
    return {"check": (predicate, description)}


def weight(default: float):
    """A loss weight: a number >= 0."""
    return dataclasses.field(default=default, metadata=_check(_non_negative, ">= 0"))


def positive(default: float):
    """A number > 0 (temperatures, scales)."""
    return dataclasses.field(default=default, metadata=_check(_positive, "> 0"))


def positive_integer(default: int):
    """An integer > 0 (sizes, counts)."""
    return dataclasses.field(default=default, metadata=_check(_positive, "a positive integer"))


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(names) + " or null"
    if origin is list:
        return f"a list of {_type_name(typing.get_args(annotation)[0])}"
    if dataclasses.is_dataclass(annotation):
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        annotation, str(annotation)
    )


def _convert(value, annotation, path: str, source: str):
    """Checks ``value`` against ``annotation``; returns it converted (int -> float)."""

    def fail(extra=""):
        raise ConfigError(
            f"config key '{path}' must be {_type_name(annotation)}, got {value!r}{extra} ({source})"
        )

    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            fail()
        return _build(annotation, value, path, source)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return None
        return _convert(value, args[0], path, source)
    if origin is Literal:
        choices = typing.get_args(annotation)
        if value is False and "off" in choices and False not in choices:
            return "off"  # YAML 1.1 reads a bare `off` as false
        if value not in choices:
            fail()
        return value
    if origin is list:
        if not isinstance(value, list):
            fail()
        (item_type,) = typing.get_args(annotation)
        return [_convert(v, item_type, f"{path}[{i}]", source) for i, v in enumerate(value)]
    if annotation is bool:
        if not isinstance(value, bool):
            fail()
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail()
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail()
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            fail()
        return value
    raise TypeError(f"unsupported annotation {annotation!r} at {path}")


def _build(cls, mapping: dict, prefix: str, source: str):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        where = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(
            f"unknown config key '{where}' ({source}); valid keys here: {', '.join(fields)}"
        )
    kwargs = {}
    for name, value in mapping.items():
        path = f"{prefix}.{name}" if prefix else name
        converted = _convert(value, hints[name], path, source)
        check = fields[name].metadata.get("check")
        if check is not None and converted is not None:
            predicate, description = check
            if not predicate(converted):
                raise ConfigError(
                    f"config key '{path}' must be {description}, got {value!r} ({source})"
                )
        kwargs[name] = converted
    return cls(**kwargs)


def build_section(cls, mapping: dict, path: str, source: str):
    """One config section from a mapping, checked like a YAML file's keys.

    Args:
        cls: the section's dataclass (e.g. `FDCMKDConfig`).
        mapping: field name -> value.
        path: the section's key path in error messages (``distill.fdcmkd``).
        source: where the values came from, for error messages.

    Raises:
        ConfigError: naming the key path, for an unknown key or a bad value.
    """
    return _build(cls, mapping, path, source)


#: public names of the range checks, for settings declared outside this module
check = _check
non_negative = _non_negative
fraction = _fraction
