"""Azure VM prices from the public Azure Retail Prices API (no authentication).

One region is read with the OData filter ``serviceName eq 'Virtual Machines'
and armRegionName eq '<region>' and priceType eq 'Consumption'`` in USD,
following ``NextPageLink`` until it is empty. Requests go through an azure-core
``PipelineClient`` whose ``RetryPolicy`` retries throttling (429) and server
errors (5xx), honouring ``Retry-After``.

The items are reduced to one set of prices per VM size by
:func:`planner.providers.azure.items.select_prices`, the parser the importer
shares.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import HeadersPolicy, RetryPolicy, UserAgentPolicy
from azure.core.pipeline.transport import HttpTransport, RequestsTransport
from azure.core.rest import HttpRequest, HttpResponse

from planner.providers.azure.items import CURRENCY, PriceKind, RegionPrices, classify, select_prices

__all__ = ["CURRENCY", "PriceKind", "RegionPrices", "classify", "fetch_region_prices",
           "make_prices_client", "price_filter", "request_parameters", "select_prices"]

RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"
RETAIL_PRICES_HOST = "prices.azure.com"
RETAIL_API_VERSION = "2023-01-01-preview"
MAX_PAGES = 1000
RETRY_TOTAL = 6
RETRY_BACKOFF_FACTOR = 1.0
RETRY_BACKOFF_MAX = 60

_REGION_NAME = re.compile(r"^[a-z0-9]+$")

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


def fetch_region_prices(client: PipelineClient, region: str,
                        rename: Callable[[str], str] | None = None) -> RegionPrices:
    """Read every VM consumption price of ``region`` (all pages) and select them
    (``rename``: the size table's aliases, see :func:`select_prices`)."""
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
    return select_prices(region, items, pages, rename)
