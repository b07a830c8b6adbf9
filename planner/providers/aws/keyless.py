"""The keyless AWS fetch: every requested region from the public bulk offer files.

See :mod:`planner.providers.aws.bulk` for how one file is read. A region that is not
in the region index, or whose file cannot be read, is a failed region; the fetch
fails only when every region failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import urllib3

from planner.catalog.schema import (
    SCHEMA_VERSION,
    CatalogFile,
    CatalogRow,
    CatalogSource,
    RegionFailure,
)
from planner.errors import CatalogFetchError
from planner.providers.aws.bulk import (
    BULK_FILTER,
    REGION_INDEX_URL,
    RETRY_BACKOFF_FACTOR,
    RETRY_STATUSES,
    RETRY_TOTAL,
    Http,
    fetch_offer,
    make_http,
    offer_rows,
    read_region_index,
)
from planner.providers.aws.request import Progress, fetch_request
from planner.providers.json_stream import JsonStreamError
from planner.vocab.jurisdictions import region_country

BULK_ERRORS = (urllib3.exceptions.HTTPError, JsonStreamError, ValueError, KeyError, TypeError)
NO_SPOT_NOTE = ("keyless refresh from the public AWS Price List bulk offer files: on-demand and "
                "reserved (Standard, No Upfront) list prices; these files carry no spot prices, "
                "so spot_price_per_hour is empty (refresh with credentials for spot)")


def _one_line(text: object, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def fetch_aws_bulk(regions: Sequence[str], *, http: Http | None = None,
                   families: Sequence[str] | None = None, progress: Progress | None = None,
                   now: datetime | None = None) -> CatalogFile:
    """Fetch the AWS catalog of ``regions`` without credentials (see the module doc)."""
    wanted, fams, when = fetch_request(regions, families, now)
    say: Progress = progress or (lambda _region, _message: None)
    client = http or make_http()
    try:
        index = read_region_index(client)
    except BULK_ERRORS as exc:
        raise CatalogFetchError(f"cannot read the AWS price list region index: {_one_line(exc)}",
                                source=REGION_INDEX_URL,
                                hint="check network access to pricing.us-east-1.amazonaws.com"
                                ) from exc
    rows: list[CatalogRow] = []
    done: list[str] = []
    failed: list[RegionFailure] = []
    skipped: dict[str, dict[str, int]] = {}
    urls: dict[str, str] = {}
    for region in wanted:
        error = _fetch_region(region, index, client, frozenset(fams), when, rows, skipped, urls,
                              say)
        if error is None:
            done.append(region)
        else:
            failed.append(RegionFailure(region=region, error=error))
            say(region, f"failed: {error}")
    if not done:
        raise CatalogFetchError(f"every AWS region failed ({len(failed)}); first: "
                                f"{failed[0].error}", source="aws",
                                hint="check the region names and network access")
    return CatalogFile(
        schema_version=SCHEMA_VERSION, provider="aws", fetched_at=when,
        source=_source(fams, urls, skipped), currency="USD", regions=sorted(done),
        failed_regions=sorted(failed, key=lambda f: f.region),
        rows=sorted(rows, key=lambda r: (r.region, r.instance_type)),
    )


def _fetch_region(region: str, index: dict[str, str], http: Http, families: frozenset[str],
                  when: datetime, rows: list[CatalogRow], skipped: dict[str, dict[str, int]],
                  urls: dict[str, str], say: Progress) -> str | None:
    """Read one region into ``rows``; the error text, or None on success."""
    country = region_country("aws", region)
    if country is None:
        return (f"unknown AWS region {region!r}: not in planner/data/regions.json "
                "(add it with its country, or check the spelling)")
    url = index.get(region)
    if url is None:
        return f"region {region!r} is not in the AWS price list region index"
    say(region, f"reading the offer file {url}")
    try:
        offer = fetch_offer(http, url, families)
    except BULK_ERRORS as exc:
        return f"bulk offer file ({region}): {_one_line(exc)}"
    region_rows, region_skipped = offer_rows(region, country, offer, url, when)
    rows.extend(region_rows)
    urls[region] = url
    if region_skipped:
        skipped[region] = region_skipped
    say(region, f"done: {len(region_rows)} rows")
    return None


def _source(families: Sequence[str], urls: dict[str, str],
            skipped: dict[str, dict[str, int]]) -> CatalogSource:
    total = sum(sum(v.values()) for v in skipped.values())
    note = NO_SPOT_NOTE + (f"; {total} instance types skipped (per region in "
                           "parameters.skipped_rows)" if total else "")
    return CatalogSource(
        apis=["AWS Price List Bulk API (public offer files, no credentials)"],
        endpoints=[REGION_INDEX_URL, *sorted(urls.values())],
        parameters={
            "families": list(families), "product_filter": BULK_FILTER,
            "commitments": "reserved Standard No Upfront 1yr/3yr hourly rates",
            "accelerators": "planner/data/aws_accelerator_families.json",
            "retries": {"library": "urllib3", "total": RETRY_TOTAL,
                        "backoff_factor": RETRY_BACKOFF_FACTOR,
                        "statuses": list(RETRY_STATUSES)},
            "skipped_rows": skipped,
        },
        note=note,
    )
