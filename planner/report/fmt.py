"""Small formatting helpers shared by the HTML report and the terminal views.

Everything that ends up in HTML goes through :func:`esc`; nothing else in the
report package writes user-controlled text into markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

Number = Decimal | float | int


_CONTROL = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F],
                         "\ufffd")
"""Control characters HTML does not allow (a NUL in a tampered plan's text reached the
report raw): each becomes U+FFFD, the replacement character."""


def esc(value: object) -> str:
    """HTML-escape any value (quotes included, so it is safe in attributes too; control
    characters HTML does not allow are replaced)."""
    return html.escape("" if value is None else str(value), quote=True).translate(_CONTROL)


def usd(value: Number | None, places: int = 2) -> str:
    """``Decimal('8563.938176')`` → ``'$8,563.94'``; None → ``'–'``."""
    if value is None:
        return "–"
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.{places}f}"


def usd_short(value: float) -> str:
    """Compact money for tight spots: ``$8,563.94``, ``$512.3k``, ``$50.2M``."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e5, "k")):
        if abs(value) >= limit:
            return f"${value / (limit if suffix != 'k' else 1e3):,.1f}{suffix}"
    return usd(value)


def pct(value: float | None, places: int = 1) -> str:
    """0.6301 → ``'63.0%'``; None → ``'n/a'``."""
    return "n/a" if value is None else f"{value * 100:.{places}f}%"


def num(value: Number) -> str:
    """A quantity without trailing zeros: ``Decimal('460.000')`` → ``'460'``."""
    d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    text = f"{d:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def short(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


def top_n(
    items: Mapping[str, Number] | Iterable[tuple[str, Number]],
    n: int,
    other: str = "other",
) -> list[tuple[str, float]]:
    """The ``n`` largest items (ties by name), the rest summed into one ``other`` item."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    ranked = sorted(((str(k), float(v)) for k, v in pairs), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) <= n:
        return ranked
    head, rest = ranked[: n - 1], ranked[n - 1 :]
    return [*head, (f"{other} ({len(rest)})", sum(v for _, v in rest))]


def plain(value: Any) -> str:
    """Any JSON-ish value as one readable line (for fields the report does not know)."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "; ".join(plain(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {plain(v)}" for k, v in value.items())
    return str(value)


def pretty_json(value: Any, limit: int = 20_000) -> str:
    """Indented JSON, cut at ``limit`` characters with a note."""
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit:,} more characters)"
    return text


def resource_label(resource: str) -> tuple[str, str, str]:
    """``'gpu:aws:eu-central-1/A100-80GB'`` → ``('aws:eu-central-1', 'A100-80GB', 'GPU-hours')``.

    Offer resources count instance-hours; unknown kinds are shown as they are.
    """
    kind, _, rest = resource.partition(":")
    site, _, what = rest.rpartition("/")
    unit = {"gpu": "GPU-hours", "offer": "instance-hours"}.get(kind, "unit-hours")
    if not site:
        return (rest or resource, what or kind, unit)
    return (site, what, unit)
