"""Keyword arguments typed by a ``TypedDict`` (``**address: Unpack[OrderAddress]``) are not checked at run
time: ``check_keywords`` refuses a misspelt one as Python refuses it for a plain signature."""

from __future__ import annotations

from collections.abc import Mapping


def check_keywords(given: Mapping[str, object], allowed: type, operation: str) -> None:
    known = set(allowed.__required_keys__) | set(allowed.__optional_keys__)  # type: ignore[attr-defined]
    unknown = set(given) - known
    if unknown:
        raise TypeError(f"{operation}() got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
