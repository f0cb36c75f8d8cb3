"""Words the pages and figures share: counts read as sentences ("1 region", "3 regions")."""

from __future__ import annotations


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """'1 region', '3,072 regions'; irregular nouns pass their plural."""
    return f"{count:,} {noun if count == 1 else (plural_noun or noun + 's')}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
