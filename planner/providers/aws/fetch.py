"""Fetch the AWS EC2 price catalog (on-demand + spot prices, instance facts) with boto3.

Per region, three read-only APIs are called, all paginated:

* ``pricing:GetProducts`` (Price List Query API, served from :data:`PRICING_REGION`):
  on-demand Linux, shared-tenancy, no pre-installed software, ``capacitystatus=Used``
  prices for the region (:func:`pricing_filters`), with the 1/3-year Standard No Upfront
  reserved prices of the same SKU (:mod:`planner.providers.aws.offers`);
* ``ec2:DescribeInstanceTypes``: vCPUs, memory, architecture and accelerators;
* ``ec2:DescribeSpotPriceHistory`` with ``StartTime=now``: the region's spot price is
  the lowest *current* zone price, with its time (:mod:`planner.providers.aws.spot`).

Without credentials (``keyless=True``, or none found) the public bulk offer files
are read instead (:mod:`planner.providers.aws.bulk`).

Retries are botocore's own (:func:`client_config`), never hand-written loops.
Credentials come from the standard AWS chain of the boto3 session and are never
logged. A region that fails is recorded in ``failed_regions`` and the fetch goes
on; missing credentials or permissions on the pricing API stop the fetch with a
:class:`~planner.errors.CatalogFetchError` that names the IAM actions needed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from planner.catalog.schema import (
    SCHEMA_VERSION,
    CatalogFile,
    CatalogRow,
    CatalogSource,
    RegionFailure,
    RowSource,
)
from planner.errors import CatalogFetchError
from planner.providers.aws.families import accelerator_of
from planner.providers.aws.keyless import fetch_aws_bulk
from planner.providers.aws.offers import (
    OfferPrices,
    is_linux_on_demand,
    merge_prices,
    offer_prices,
)
from planner.providers.aws.request import Progress, fetch_request
from planner.providers.aws.spot import SpotQuote, region_spot
from planner.vocab.jurisdictions import region_country

# The Price List Query API only has endpoints in a few regions; us-east-1 serves all of them.
PRICING_REGION = "us-east-1"
SERVICE_CODE = "AmazonEC2"
FORMAT_VERSION = "aws_v1"
RETRY_MODE: Final = "standard"
# botocore's ``max_attempts`` counts retries after the first call: 8 → at most 9 calls.
MAX_ATTEMPTS = 8
PRICING_PAGE_SIZE = 100  # GetProducts maximum
EC2_PAGE_SIZE = 100  # DescribeInstanceTypes maximum
SPOT_PAGE_SIZE = 1000
SPOT_PRODUCT_DESCRIPTIONS = ("Linux/UNIX",)



REQUIRED_IAM_ACTIONS = ("pricing:GetProducts", "ec2:DescribeInstanceTypes",
                        "ec2:DescribeSpotPriceHistory")
AUTH_ERROR_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure",
    "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
    "UnrecognizedClientException", "SignatureDoesNotMatch",
})  # fmt: skip
AUTH_HINT = (
    "check the AWS credentials (profile, SSO login, role) and allow "
    + ", ".join(REQUIRED_IAM_ACTIONS)
    + " for the caller"
)

NO_CREDENTIALS_FALLBACK = (
    "no AWS credentials found (environment, profile, SSO or instance role): refreshing keyless "
    "from the public Price List bulk offer files (on-demand and reserved prices, no spot)")

ClientFactory = Callable[[str, str], BaseClient]
"""``(service_name, region) -> botocore client``; tests inject stubbed clients here."""


def client_config() -> Config:
    """botocore client config: retries in botocore's ``standard`` mode, bounded timeouts."""
    return Config(retries={"mode": RETRY_MODE, "max_attempts": MAX_ATTEMPTS},
                  connect_timeout=10, read_timeout=60)


def session_client_factory(session: boto3.session.Session) -> ClientFactory:
    """A client factory over a boto3 session (standard credential chain), with retries."""

    def make(service: str, region: str) -> BaseClient:
        return session.client(service, region_name=region, config=client_config())  # type: ignore[call-overload,unused-ignore]

    return make


def pricing_filters(region: str) -> list[dict[str, str]]:
    """GetProducts filters: one on-demand Linux price per instance type in ``region``."""
    terms = {"regionCode": region, "operatingSystem": "Linux", "tenancy": "Shared",
             "preInstalledSw": "NA", "capacitystatus": "Used",
             "licenseModel": "No License required"}
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in terms.items()]


def family_of(instance_type: str) -> str:
    """The family of an instance type: ``p4d.24xlarge`` → ``p4d``."""
    return instance_type.split(".", 1)[0]


def parse_price_item(text: str) -> tuple[str, OfferPrices] | None:
    """(instance type, prices) from one GetProducts ``PriceList`` JSON string.

    Returns None for products that are not a plain on-demand Linux ``RunInstances``
    SKU or carry no hourly USD price.
    """
    item = json.loads(text)
    attrs = item.get("product", {}).get("attributes", {})
    if not is_linux_on_demand(attrs):
        return None
    terms = item.get("terms", {})
    prices = offer_prices(terms.get("OnDemand", {}), terms.get("Reserved"))
    return (str(attrs["instanceType"]), prices) if prices is not None else None


def _pages(client: BaseClient, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item of a paginated operation (the paginator follows ``NextToken``)."""
    paginator = client.get_paginator(operation)
    for page in paginator.paginate(**kwargs):
        yield from page.get(key, [])


def fetch_on_demand(pricing: BaseClient, region: str,
                    families: Sequence[str]) -> dict[str, OfferPrices]:
    """On-demand (and commitment) Linux USD/hour per instance type of ``families``."""
    wanted = set(families)
    prices: dict[str, OfferPrices] = {}
    items = _pages(pricing, "get_products", "PriceList", ServiceCode=SERVICE_CODE,
                   FormatVersion=FORMAT_VERSION, Filters=pricing_filters(region),
                   PaginationConfig={"PageSize": PRICING_PAGE_SIZE})
    for text in items:
        parsed = parse_price_item(text)
        if parsed is None or family_of(parsed[0]) not in wanted:
            continue
        name, price = parsed
        # The filters leave one SKU per type; should AWS ever list two, keep the lower.
        prices[name] = merge_prices(prices.get(name), price)
    return prices


def _type_filters(families: Sequence[str]) -> list[dict[str, Any]]:
    return [{"Name": "instance-type", "Values": [f"{f}.*" for f in families]}]


def fetch_instance_types(ec2: BaseClient, families: Sequence[str]) -> list[dict[str, Any]]:
    """DescribeInstanceTypes entries of ``families`` in the client's region."""
    wanted = set(families)
    infos = _pages(ec2, "describe_instance_types", "InstanceTypes",
                   Filters=_type_filters(families),
                   PaginationConfig={"PageSize": EC2_PAGE_SIZE})
    return [i for i in infos if family_of(i["InstanceType"]) in wanted]


def fetch_spot(ec2: BaseClient, region: str, families: Sequence[str],
               now: datetime) -> dict[str, SpotQuote]:
    """Per instance type, the lowest current spot price over ``region``'s zones and its
    time (see :mod:`planner.providers.aws.spot`: only each zone's latest entry counts)."""
    history = _pages(ec2, "describe_spot_price_history", "SpotPriceHistory",
                     StartTime=now, ProductDescriptions=list(SPOT_PRODUCT_DESCRIPTIONS),
                     Filters=_type_filters(families),
                     PaginationConfig={"PageSize": SPOT_PAGE_SIZE})
    return region_spot(history, region, SPOT_PRODUCT_DESCRIPTIONS[0])


def _architecture(info: dict[str, Any]) -> Literal["x86_64", "arm64"] | None:
    archs = info.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    return "x86_64" if "x86_64" in archs else ("arm64" if "arm64" in archs else None)


API_SOURCE_REF = "AWS Price List Query API (pricing:GetProducts) + ec2:DescribeSpotPriceHistory"


def build_row(region: str, country: str, info: dict[str, Any], price: OfferPrices | None,
              spot: SpotQuote | None, source: RowSource) -> CatalogRow | str:
    """The catalog row of one instance type, or the reason it is skipped."""
    name = str(info["InstanceType"])
    if price is None or price.on_demand == 0:
        return "no_on_demand_price"
    arch = _architecture(info)
    if arch is None:
        return "unsupported_architecture"
    acc = accelerator_of(info)
    if acc is not None and acc.model is None:
        return f"unknown_accelerator:{acc.raw_name}"
    return CatalogRow(
        provider="aws", region=region, instance_type=name, family=family_of(name),
        architecture=arch,
        vcpus=int(info["VCpuInfo"]["DefaultVCpus"]),
        memory_gib=info["MemoryInfo"]["SizeInMiB"] / 1024,
        gpu_model=acc.model if acc else None, gpu_vendor=acc.vendor if acc else None,
        gpu_count=acc.count if acc else 0, gpu_memory_gib=acc.memory_gib if acc else 0,
        price_per_hour=price.on_demand, spot_price_per_hour=spot.price if spot else None,
        spot_price_at=spot.at if spot else None, commit_1y_per_hour=price.commit_1y,
        commit_3y_per_hour=price.commit_3y, source=source, country=country,
    )


@dataclass
class _Fetch:
    """What the fetch has gathered so far."""

    rows: list[CatalogRow] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    failed: list[RegionFailure] = field(default_factory=list)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    endpoints: set[str] = field(default_factory=set)
    auth_failures: int = 0


def _is_auth_error(exc: Exception) -> bool:
    if isinstance(exc, NoCredentialsError):
        return True
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    return code in AUTH_ERROR_CODES


def _fetch_region(region: str, pricing: BaseClient, clients: ClientFactory,
                  families: Sequence[str], now: datetime, acc: _Fetch, say: Progress) -> None:
    """Fetch one region into ``acc``; a failure is recorded, an auth failure on pricing raises."""
    say(region, "fetching prices")
    country = region_country("aws", region)
    if country is None:
        error = (f"unknown AWS region {region!r}: not in planner/data/regions.json "
                 "(add it with its country, or check the spelling)")
        acc.failed.append(RegionFailure(region=region, error=error))
        say(region, f"failed: {error}")
        return
    api = "pricing:GetProducts"
    try:
        prices = fetch_on_demand(pricing, region, families)
        api = "ec2:DescribeInstanceTypes"
        ec2 = clients("ec2", region)
        acc.endpoints.add(ec2.meta.endpoint_url)
        infos = fetch_instance_types(ec2, families)
        api = "ec2:DescribeSpotPriceHistory"
        spot = fetch_spot(ec2, region, families, now)
    except (ClientError, BotoCoreError, ValueError, KeyError) as exc:
        if api.startswith("pricing:") and _is_auth_error(exc):
            raise CatalogFetchError(f"AWS Price List API refused the request: {exc}",
                                    source="aws", hint=AUTH_HINT) from exc
        acc.auth_failures += _is_auth_error(exc)
        error = f"{api} ({region}): {exc}"
        acc.failed.append(RegionFailure(region=region, error=error))
        say(region, f"failed: {error}")
        return
    skipped: dict[str, int] = {}
    before = len(acc.rows)
    source = RowSource(kind="api", ref=API_SOURCE_REF, fetched_at=now)
    for info in infos:
        name = info["InstanceType"]
        try:
            row = build_row(region, country, info, prices.get(name), spot.get(name), source)
        except (ValueError, KeyError):  # a malformed entry (pydantic errors are ValueErrors)
            row = "invalid_instance_facts"
        if isinstance(row, str):
            skipped[row] = skipped.get(row, 0) + 1
        else:
            acc.rows.append(row)
    acc.regions.append(region)
    if skipped:
        acc.skipped[region] = dict(sorted(skipped.items()))
    say(region, f"done: {len(acc.rows) - before} rows")


def fetch_aws(
    regions: Sequence[str],
    *,
    session: boto3.session.Session | None = None,
    families: Sequence[str] | None = None,
    progress: Progress | None = None,
    clients: ClientFactory | None = None,
    now: datetime | None = None,
    keyless: bool = False,
    http: Any = None,
) -> CatalogFile:
    """Fetch the AWS catalog of ``regions`` (instance types of ``families``).

    ``clients`` builds botocore clients as ``clients(service, region)``; by default
    they come from ``session`` (or a new boto3 session: the standard credential
    chain) with :func:`client_config`. ``progress(region, message)`` reports each
    region's "fetching prices", "done: N rows" or "failed: …". ``now`` (UTC) is the
    spot price instant and ``fetched_at``.

    ``keyless`` reads the public bulk offer files instead (no credentials, no spot
    prices; ``http`` replaces their urllib3 client); it is also chosen, with a
    progress message, when the session finds no credentials.

    Raises :class:`CatalogFetchError` when no region was requested, when the
    pricing API rejects the credentials, or when every region failed.
    """
    wanted_regions, fams, when = fetch_request(regions, families, now)
    say_first: Progress = progress or (lambda _region, _message: None)
    if clients is None:
        session = session or boto3.session.Session()
        if not keyless and session.get_credentials() is None:
            say_first("all", NO_CREDENTIALS_FALLBACK)
            keyless = True
    if keyless:
        return fetch_aws_bulk(wanted_regions, http=http, families=fams, progress=progress,
                              now=when)
    make = clients or session_client_factory(session or boto3.session.Session())
    say: Progress = progress or (lambda _region, _message: None)
    acc = _Fetch()
    pricing = make("pricing", PRICING_REGION)
    acc.endpoints.add(pricing.meta.endpoint_url)
    for region in wanted_regions:
        _fetch_region(region, pricing, make, fams, when, acc, say)
    if not acc.regions:
        first = acc.failed[0]
        hint = AUTH_HINT if acc.auth_failures else "check the region names and network access"
        raise CatalogFetchError(
            f"every AWS region failed ({len(acc.failed)}); first: {first.error}",
            source="aws", hint=hint)
    return _catalog(acc, fams, when)


def _catalog(acc: _Fetch, families: Sequence[str], when: datetime) -> CatalogFile:
    """The catalog envelope around the fetched rows (sorted by region, instance type)."""
    skipped_total = sum(sum(v.values()) for v in acc.skipped.values())
    source = CatalogSource(
        apis=[f"pricing:GetProducts ({SERVICE_CODE}, {FORMAT_VERSION})",
              "ec2:DescribeInstanceTypes", "ec2:DescribeSpotPriceHistory"],
        endpoints=sorted(acc.endpoints),
        parameters={
            "pricing_region": PRICING_REGION,
            "pricing_filters": pricing_filters("<region>"),
            "families": list(families),
            "instance_type_filter": _type_filters(families),
            "spot_product_descriptions": list(SPOT_PRODUCT_DESCRIPTIONS),
            "spot_start_time": when.isoformat(),
            "spot_aggregation": "lowest current price over the region's availability "
                                "zones (latest entry per zone; Local Zones excluded)",
            "commitments": "reserved Standard No Upfront 1yr/3yr hourly rates",
            "retries": {"mode": RETRY_MODE, "max_attempts": MAX_ATTEMPTS},
            "skipped_rows": acc.skipped,
        },
        note=(f"{skipped_total} instance types skipped (no on-demand price, unknown "
              "accelerator or architecture); per region in parameters.skipped_rows"
              if skipped_total else None),
    )
    return CatalogFile(
        schema_version=SCHEMA_VERSION, provider="aws", fetched_at=when, source=source,
        currency="USD", regions=sorted(acc.regions),
        failed_regions=sorted(acc.failed, key=lambda f: f.region),
        rows=sorted(acc.rows, key=lambda r: (r.region, r.instance_type)),
    )
