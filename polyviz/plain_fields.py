"""Dataclasses of plain values that round-trip through a dict (and so through JSON)."""

from __future__ import annotations

from dataclasses import asdict, fields


class PlainFields:
    """``to_dict`` and ``from_dict`` for a dataclass of plain values. ``from_dict`` refuses a
    field it does not know, by name; a missing one takes its default (files written before a
    field existed load)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; allowed: {', '.join(sorted(known))}")
        return cls(**data)
