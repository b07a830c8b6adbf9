"""Keyless AWS refresh: the public Price List bulk offer files (no credentials).

1. ``GET`` :data:`REGION_INDEX_URL` (the EC2 region index): ``regions[<code>]
   .currentVersionUrl`` is the path of the region's current offer file;
2. ``GET`` that file (hundreds of MB in reality) and walk it as a stream
   (:mod:`planner.providers.json_stream`): ``products{sku: {attributes}}`` first —
   only on-demand Linux shared-tenancy products of the wanted families are kept
   (:func:`planner.providers.aws.offers.is_linux_on_demand`) — then
   ``terms.OnDemand`` and ``terms.Reserved`` of those SKUs only; everything else
   is skipped without being held in memory;
3. a row per instance type: vCPUs, memory and GPU count from the offer attributes
   (``vcpu``, ``memory``, ``gpu``), the accelerator model from the family
   (:mod:`planner.providers.aws.families`), ``arm64`` for Graviton processors.

The bulk files carry no spot prices: rows have none (refresh with credentials for
spot). HTTP is urllib3 (botocore's own HTTP library) with its ``Retry``: 429 and
5xx are retried with backoff, honouring ``Retry-After``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlparse

import urllib3

from planner.catalog.schema import CatalogRow, RowSource
from planner.providers.aws.families import family_accelerator
from planner.providers.aws.offers import (
    LINUX_ON_DEMAND,
    REGION_LOCATION,
    OfferPrices,
    is_linux_on_demand,
    merge_prices,
    offer_prices,
)
from planner.providers.json_stream import JsonStream, JsonStreamError, decode_chunks
from planner.vocab.gpus import GPU_MODELS

PRICING_HOST = "pricing.us-east-1.amazonaws.com"
REGION_INDEX_URL = f"https://{PRICING_HOST}/offers/v1.0/aws/AmazonEC2/current/region_index.json"
CHUNK_BYTES = 1 << 20
MAX_INDEX_BYTES = 16 << 20
RETRY_TOTAL = 6
RETRY_BACKOFF_FACTOR = 1.0
RETRY_STATUSES = (429, 500, 502, 503, 504)
TERM_KINDS = ("OnDemand", "Reserved")

Progress = Callable[[str, str], None]


class Http(Protocol):
    """The part of ``urllib3.PoolManager`` the bulk reader uses (tests pass a stub)."""

    def request(self, method: str, url: str, **kwargs: Any) -> urllib3.BaseHTTPResponse: ...


def retry_policy() -> urllib3.Retry:
    """urllib3's retries: 429/5xx and connection errors, with backoff and Retry-After."""
    return urllib3.Retry(total=RETRY_TOTAL, backoff_factor=RETRY_BACKOFF_FACTOR,
                         status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"GET"}),
                         respect_retry_after_header=True, raise_on_status=True)


def make_http() -> urllib3.PoolManager:
    """The default HTTP client: a urllib3 pool with :func:`retry_policy` and timeouts."""
    return urllib3.PoolManager(retries=retry_policy(),
                               timeout=urllib3.Timeout(connect=10, read=120),
                               headers={"User-Agent": "planner-catalog-aws-bulk"})


def _get(http: Http, url: str) -> urllib3.BaseHTTPResponse:
    """A streamed GET; a status other than 200 (after retries) is a ValueError."""
    response = http.request("GET", url, preload_content=False)
    if response.status != 200:
        response.release_conn()
        raise ValueError(f"HTTP {response.status} for {url}")
    return response


def read_region_index(http: Http) -> dict[str, str]:
    """Region code → absolute URL of its current EC2 offer file."""
    response = _get(http, REGION_INDEX_URL)
    try:
        raw = response.read(MAX_INDEX_BYTES + 1)
    finally:
        response.release_conn()
    if len(raw) > MAX_INDEX_BYTES:
        raise ValueError(f"the region index is larger than {MAX_INDEX_BYTES} bytes")
    regions = json.loads(raw).get("regions")
    if not isinstance(regions, dict):
        raise ValueError("the region index has no 'regions' object")
    out: dict[str, str] = {}
    for code, entry in regions.items():
        url = urljoin(REGION_INDEX_URL, str((entry or {}).get("currentVersionUrl", "")))
        if urlparse(url).hostname == PRICING_HOST and url.endswith(".json"):
            out[str(code)] = url
    return out


@dataclass(frozen=True)
class BulkProduct:
    """The facts of one on-demand Linux product of an offer file."""

    instance_type: str
    vcpus: int
    memory_gib: float
    gpus: float
    processor: str


def _number(text: object) -> float:
    """``"1,152 GiB"`` → 1152.0; ``"NA"`` or empty → 0."""
    head = str(text or "").replace(",", "").split(" ")[0]
    try:
        return float(head)
    except ValueError:
        return 0.0


def product_facts(product: Mapping[str, Any], families: frozenset[str]) -> BulkProduct | None:
    """The product's facts when it is an on-demand Linux instance of ``families``."""
    attrs = product.get("attributes") or {}
    name = str(attrs.get("instanceType") or "")
    if not is_linux_on_demand(attrs) or name.split(".", 1)[0] not in families:
        return None
    return BulkProduct(instance_type=name, vcpus=int(_number(attrs.get("vcpu"))),
                       memory_gib=_number(attrs.get("memory")), gpus=_number(attrs.get("gpu")),
                       processor=str(attrs.get("physicalProcessor") or ""))


@dataclass
class Offer:
    """What one offer file yields: products and prices by instance type."""

    products: dict[str, BulkProduct] = field(default_factory=dict)
    prices: dict[str, OfferPrices] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)


def _read_terms(stream: JsonStream, keep: Mapping[str, BulkProduct],
                terms: dict[str, dict[str, Any]]) -> None:
    for kind in stream.members():
        if kind not in TERM_KINDS:
            stream.skip()
            continue
        for sku in stream.members():
            if sku in keep:
                terms[kind][sku] = stream.value()
            else:
                stream.skip()


def read_offer(chunks: Iterator[str], families: frozenset[str]) -> Offer:
    """Walk an EC2 offer file (``products`` before ``terms``, as AWS writes them)."""
    stream = JsonStream(chunks)
    by_sku: dict[str, BulkProduct] = {}
    terms: dict[str, dict[str, Any]] = {kind: {} for kind in TERM_KINDS}
    offer = Offer()
    for key in stream.members():
        if key == "products":
            for sku in stream.members():
                facts = product_facts(stream.value(), families)
                if facts is not None:
                    by_sku[sku] = facts
        elif key == "terms":
            if not by_sku:
                raise JsonStreamError("the offer file lists no wanted product before 'terms'")
            _read_terms(stream, by_sku, terms)
        elif key in ("version", "publicationDate", "offerCode"):
            offer.meta[key] = str(stream.value())
        else:
            stream.skip()
    for sku, facts in sorted(by_sku.items()):
        prices = offer_prices(terms["OnDemand"].get(sku, {}), terms["Reserved"].get(sku))
        if prices is not None:
            offer.prices[facts.instance_type] = merge_prices(
                offer.prices.get(facts.instance_type), prices)
            offer.products.setdefault(facts.instance_type, facts)
    return offer


def fetch_offer(http: Http, url: str, families: frozenset[str]) -> Offer:
    """Stream one region's offer file from ``url`` and read it."""
    response = _get(http, url)
    try:
        return read_offer(decode_chunks(response.stream(CHUNK_BYTES)), families)
    finally:
        response.release_conn()


def bulk_row(region: str, country: str, product: BulkProduct, prices: OfferPrices,
             source: RowSource) -> CatalogRow | str:
    """The row of one instance type from an offer file, or the reason it is skipped."""
    if prices.on_demand == 0:
        return "no_on_demand_price"
    if product.vcpus <= 0 or product.memory_gib <= 0:
        return "no_vcpu_or_memory"
    family = product.instance_type.split(".", 1)[0]
    accelerator = family_accelerator(family)
    model = None
    if accelerator is not None:
        name, model = accelerator
        if model is None:
            return f"unknown_accelerator:{name}"
        if product.gpus <= 0:
            return "unknown_accelerator_count"
    elif product.gpus > 0:
        return f"unknown_accelerator:{family}"
    count = product.gpus if model else 0.0
    return CatalogRow(
        provider="aws", region=region, instance_type=product.instance_type, family=family,
        architecture="arm64" if "graviton" in product.processor.lower() else "x86_64",
        vcpus=product.vcpus, memory_gib=product.memory_gib, gpu_model=model,
        gpu_vendor=GPU_MODELS[model].vendor if model else None, gpu_count=count,
        gpu_memory_gib=count * GPU_MODELS[model].memory_gib if model else 0.0,
        price_per_hour=prices.on_demand, commit_1y_per_hour=prices.commit_1y,
        commit_3y_per_hour=prices.commit_3y, source=source, country=country,
    )


def offer_rows(region: str, country: str, offer: Offer, url: str,
               fetched_at: datetime) -> tuple[list[CatalogRow], dict[str, int]]:
    """Rows of one region's offer, and the count of skipped types per reason (a type whose
    row fails validation, e.g. a price above the catalog's bound, is skipped and counted
    as ``invalid_row``, as Azure counts one, not the whole region)."""
    version = offer.meta.get("publicationDate") or offer.meta.get("version") or "?"
    source = RowSource(kind="bulk", ref=f"AWS Price List bulk offer file {url} "
                                        f"(published {version})",
                       fetched_at=fetched_at.astimezone(UTC))
    rows: list[CatalogRow] = []
    skipped: dict[str, int] = {}
    for name in sorted(offer.prices):
        try:
            row = bulk_row(region, country, offer.products[name], offer.prices[name], source)
        except (ValueError, KeyError):  # e.g. a price above the bound: skipped, counted
            row = "invalid_row"
        if isinstance(row, str):
            skipped[row] = skipped.get(row, 0) + 1
        else:
            rows.append(row)
    return rows, dict(sorted(skipped.items()))


BULK_FILTER = dict(LINUX_ON_DEMAND, operation="RunInstances", marketoption="OnDemand",
                   locationType=REGION_LOCATION)
"""What the bulk reader keeps (said in the catalog's source)."""
