"""Azure VM prices from the public Azure Retail Prices API (no authentication).

One region is read with the OData filter ``serviceName eq 'Virtual Machines'
and armRegionName eq '<region>' and priceType eq 'Consumption'`` in USD,
following ``NextPageLink`` until it is empty. Requests go through an azure-core
``PipelineClient`` whose ``RetryPolicy`` retries throttling (429) and server
errors (5xx), honouring ``Retry-After``.

Each item is classified from its names:

* ``productName`` mentions Windows (``… Windows`` or ``… Win``) → skipped,
* ``skuName``/``meterName`` says ``Low Priority`` → low-priority (kept apart,
  not in the catalog),
* ``skuName``/``meterName`` says ``Spot`` → spot price,
* otherwise → on-demand Linux price.

Items that are not hourly, not priced (0), or not in the requested region are
skipped. When several items price the same size and kind, the primary meter
region wins, then the latest ``effectiveStartDate``, then the lowest price.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import HeadersPolicy, RetryPolicy, UserAgentPolicy
from azure.core.pipeline.transport import HttpTransport, RequestsTransport
from azure.core.rest import HttpRequest, HttpResponse

RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"
RETAIL_PRICES_HOST = "prices.azure.com"
RETAIL_API_VERSION = "2023-01-01-preview"
CURRENCY = "USD"
MAX_PAGES = 1000
RETRY_TOTAL = 6
RETRY_BACKOFF_FACTOR = 1.0
RETRY_BACKOFF_MAX = 60

_REGION_NAME = re.compile(r"^[a-z0-9]+$")
_WINDOWS = re.compile(r"\bWin(dows)?\b", re.IGNORECASE)
_SPOT = re.compile(r"\bSpot\b", re.IGNORECASE)
_LOW_PRIORITY = re.compile(r"\bLow Priority\b", re.IGNORECASE)


class PriceKind(enum.Enum):
    """How a retail price item is used."""

    ON_DEMAND = "on_demand"
    SPOT = "spot"
    LOW_PRIORITY = "low_priority"
    WINDOWS = "windows"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class RegionPrices:
    """Linux prices of one region, USD per hour, by ARM size name."""

    region: str
    on_demand: dict[str, Decimal]
    spot: dict[str, Decimal]
    low_priority: dict[str, Decimal]
    pages: int
    items: int


def price_filter(region: str) -> str:
    """The OData ``$filter`` for one region's VM consumption prices."""
    return (f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}' "
            "and priceType eq 'Consumption'")


def request_parameters(region: str) -> dict[str, str]:
    """Query parameters of the first page request for ``region``."""
    return {"api-version": RETAIL_API_VERSION, "currencyCode": f"'{CURRENCY}'",
            "$filter": price_filter(region)}


def make_prices_client(transport: HttpTransport | None = None) -> PipelineClient:
    """A pipeline client for the Retail Prices API (retries 429/5xx, honours Retry-After).

    Without ``transport`` it uses azure-core's requests transport.
    """
    policies = [
        HeadersPolicy({"Accept": "application/json"}),
        UserAgentPolicy(sdk_moniker="planner-catalog-azure"),
        RetryPolicy(retry_total=RETRY_TOTAL, retry_backoff_factor=RETRY_BACKOFF_FACTOR,
                    retry_backoff_max=RETRY_BACKOFF_MAX),
    ]
    chosen = transport or RequestsTransport(connection_timeout=30, read_timeout=120)
    return PipelineClient(base_url=RETAIL_PRICES_URL, policies=policies, transport=chosen)


def classify(item: Mapping[str, Any]) -> PriceKind:
    """Classify one retail price item (see the module docstring)."""
    if _WINDOWS.search(str(item.get("productName") or "")):
        return PriceKind.WINDOWS
    names = f"{item.get('skuName') or ''} {item.get('meterName') or ''}"
    if _LOW_PRIORITY.search(names):
        return PriceKind.LOW_PRIORITY
    if _SPOT.search(names):
        return PriceKind.SPOT
    return PriceKind.ON_DEMAND


def _hourly_price(item: Mapping[str, Any]) -> Decimal | None:
    if str(item.get("unitOfMeasure") or "").strip().lower() != "1 hour":
        return None
    raw = item.get("retailPrice", item.get("unitPrice"))
    try:
        price = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    if not price.is_finite() or price <= 0:
        return None
    return price


def _start_timestamp(item: Mapping[str, Any]) -> float:
    raw = str(item.get("effectiveStartDate") or "")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _preference(item: Mapping[str, Any], price: Decimal) -> tuple[bool, float, Decimal, str]:
    """Sort key: smaller is preferred (primary meter, newest, cheapest, then meter id)."""
    return (item.get("isPrimaryMeterRegion") is False, -_start_timestamp(item), price,
            str(item.get("meterId") or ""))


def select_prices(region: str, items: Sequence[Mapping[str, Any]], pages: int = 1) -> RegionPrices:
    """Reduce raw items to one price per (size, kind) for ``region``."""
    best: dict[tuple[PriceKind, str], tuple[tuple[bool, float, Decimal, str], Decimal]] = {}
    for item in items:
        currency = item.get("currencyCode", CURRENCY)
        if currency != CURRENCY:
            raise ValueError(f"retail prices API answered in {currency!r}, expected {CURRENCY}")
        sku = str(item.get("armSkuName") or "")
        if not sku or str(item.get("armRegionName") or region).lower() != region:
            continue
        if item.get("type", item.get("priceType", "Consumption")) != "Consumption":
            continue
        kind = classify(item)
        price = _hourly_price(item)
        if kind is PriceKind.WINDOWS or price is None:
            continue
        key = (kind, sku)
        rank = _preference(item, price)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, price)
    by_kind: dict[PriceKind, dict[str, Decimal]] = {k: {} for k in PriceKind}
    for kind, sku in sorted(best, key=lambda key: (key[0].value, key[1])):
        by_kind[kind][sku] = best[(kind, sku)][1]
    return RegionPrices(region=region, on_demand=by_kind[PriceKind.ON_DEMAND],
                        spot=by_kind[PriceKind.SPOT], low_priority=by_kind[PriceKind.LOW_PRIORITY],
                        pages=pages, items=len(items))


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _read_page(client: PipelineClient, request: HttpRequest, region: str) -> dict[str, Any]:
    response: HttpResponse = client.send_request(request)
    if response.status_code != 200:
        raise HttpResponseError(
            message=(f"retail prices API returned HTTP {response.status_code} for {region}: "
                     f"{_one_line(response.text())}"),
            response=response)
    page = json.loads(response.text(), parse_float=Decimal)
    if not isinstance(page, dict) or not isinstance(page.get("Items"), list):
        raise ValueError(f"retail prices API: unexpected response for {region} (no 'Items' list)")
    return page


def _next_request(link: object, seen: set[str]) -> HttpRequest | None:
    if not link:
        return None
    url = str(link)
    if urlparse(url).hostname != RETAIL_PRICES_HOST:
        raise ValueError(f"retail prices API: NextPageLink leaves {RETAIL_PRICES_HOST}: {url}")
    if url in seen:
        raise ValueError("retail prices API: NextPageLink repeats a page already read")
    seen.add(url)
    return HttpRequest("GET", url)


def fetch_region_prices(client: PipelineClient, region: str) -> RegionPrices:
    """Read every VM consumption price of ``region`` (all pages) and select them."""
    if not _REGION_NAME.match(region):
        raise ValueError(f"invalid Azure region name {region!r}")
    request: HttpRequest | None = HttpRequest("GET", RETAIL_PRICES_URL,
                                              params=request_parameters(region))
    items: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    pages = 0
    while request is not None:
        if pages >= MAX_PAGES:
            raise ValueError(f"retail prices API: more than {MAX_PAGES} pages for {region}")
        page = _read_page(client, request, region)
        pages += 1
        items.extend(i for i in page["Items"] if isinstance(i, dict))
        request = _next_request(page.get("NextPageLink"), seen)
    return select_prices(region, items, pages)
