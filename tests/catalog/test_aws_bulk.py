"""Offline tests of the keyless AWS refresh (public Price List bulk offer files).

A real ``urllib3.PoolManager`` with the fetcher's own ``Retry`` runs; only
``HTTPConnectionPool._make_request`` (the step that would use the socket) is
replaced by canned responses from ``tests/fixtures/aws_bulk``, so retries,
Retry-After and streaming behave as on the wire.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3
from urllib3.connectionpool import HTTPConnectionPool

from planner.catalog.schema import CatalogFile, CatalogRow
from planner.errors import CatalogFetchError
from planner.providers.aws import bulk as aws_bulk
from planner.providers.aws import fetch as aws
from planner.providers.aws.keyless import fetch_aws_bulk
from planner.providers.json_stream import JsonStream, JsonStreamError
from planner.vocab.gpus import GPU_MODELS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "aws_bulk"
NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
FAMILIES = ("p4d", "p5", "p6-b200", "g5", "m7g", "m7i", "inf2")
OFFER_PATH = "/offers/v1.0/aws/AmazonEC2/20261120190452/us-east-1/index.json"
INDEX_PATH = "/offers/v1.0/aws/AmazonEC2/current/region_index.json"
Canned = tuple[int, dict[str, str], bytes]


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class Wire:
    """Canned answers by URL path, in order (the last one repeats); 404 otherwise."""

    def __init__(self, routes: dict[str, list[Canned]]) -> None:
        self.routes = {k: list(v) for k, v in routes.items()}
        self.paths: list[str] = []

    def __call__(self, pool: HTTPConnectionPool, conn: Any, method: str, url: str,
                 **_kwargs: Any) -> urllib3.HTTPResponse:
        self.paths.append(url)
        queue = self.routes.get(url)
        status, headers, data = ((queue.pop(0) if len(queue) > 1 else queue[0]) if queue
                                 else (404, {}, b"<Error>NoSuchKey</Error>"))
        return urllib3.HTTPResponse(body=io.BytesIO(data), status=status, headers=headers,
                                    preload_content=False, request_method=method,
                                    request_url=url)


def routes() -> dict[str, list[Canned]]:
    return {INDEX_PATH: [(200, {}, body("region_index.json"))],
            OFFER_PATH: [(503, {"Retry-After": "0"}, b"Slow Down"),
                         (200, {}, body("offer_us-east-1.json"))]}


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    canned = Wire(routes())

    def make_request(pool: HTTPConnectionPool, conn: Any, method: str, url: str,
                     **kwargs: Any) -> urllib3.HTTPResponse:
        return canned(pool, conn, method, url, **kwargs)

    monkeypatch.setattr(HTTPConnectionPool, "_make_request", make_request)
    return canned


def fetch(regions: list[str], log: list[tuple[str, str]] | None = None) -> CatalogFile:
    def progress(region: str, message: str) -> None:
        if log is not None:
            log.append((region, message))

    return fetch_aws_bulk(regions, families=FAMILIES, progress=progress, now=NOW)


def row(catalog: CatalogFile, name: str, region: str = "us-east-1") -> CatalogRow:
    [match] = [r for r in catalog.rows if (r.region, r.instance_type) == (region, name)]
    return match


def test_keyless_rows_from_the_offer_file(wire: Wire) -> None:
    catalog = fetch(["us-east-1"])
    assert wire.paths == [INDEX_PATH, OFFER_PATH, OFFER_PATH]  # 503 retried by urllib3
    p4d = row(catalog, "p4d.24xlarge")  # Windows, Dedicated, unused-reservation SKUs ignored
    assert (p4d.price_per_hour, p4d.commit_1y_per_hour, p4d.commit_3y_per_hour) == (
        Decimal("21.9576"), Decimal("13.439"), Decimal("8.7426"))
    assert (p4d.vcpus, p4d.memory_gib, p4d.gpu_model, p4d.gpu_count, p4d.gpu_memory_gib) == (
        96, 1152.0, "A100-40GB", 8, 320)
    assert p4d.spot_price_per_hour is None and p4d.spot_price_at is None
    p5 = row(catalog, "p5.48xlarge")
    assert (p5.memory_gib, p5.gpu_model, p5.gpu_vendor) == (2048.0, "H100", "nvidia")
    assert row(catalog, "m7g.large").architecture == "arm64"
    m7i = row(catalog, "m7i.large")
    assert (m7i.architecture, m7i.gpu_model, m7i.gpu_count) == ("x86_64", None, 0)
    assert "t3.micro" not in {r.instance_type for r in catalog.rows}  # family not asked for


def test_provenance_and_source_say_bulk_and_no_spot(wire: Wire) -> None:
    catalog = fetch(["us-east-1"])
    for r in catalog.rows:
        assert r.source is not None and r.source.kind == "bulk"
        assert r.source.fetched_at == NOW and OFFER_PATH in r.source.ref
        assert "2026-11-20T19:04:52Z" in r.source.ref
    assert catalog.source.note and "no spot prices" in catalog.source.note
    assert aws_bulk.REGION_INDEX_URL in catalog.source.endpoints
    assert catalog.source.parameters["retries"]["library"] == "urllib3"


def test_skipped_types_are_counted_not_guessed(wire: Wire) -> None:
    catalog = fetch(["us-east-1"])
    skipped = catalog.source.parameters["skipped_rows"]["us-east-1"]
    assert skipped["unknown_accelerator_count"] == 1  # inf2: the offer gives no count
    names = {r.instance_type for r in catalog.rows}
    assert "inf2.xlarge" not in names
    if "B200" in GPU_MODELS:  # the vocabulary may learn B200 (another branch)
        assert row(catalog, "p6-b200.48xlarge").gpu_model == "B200"
    else:
        assert skipped["unknown_accelerator:B200"] == 1 and "p6-b200.48xlarge" not in names


def test_missing_and_unknown_regions_fail_alone(wire: Wire) -> None:
    log: list[tuple[str, str]] = []
    catalog = fetch(["us-east-1", "eu-central-1", "sa-east-1", "mars-north-1"], log)
    failed = {f.region: f.error for f in catalog.failed_regions}
    assert catalog.regions == ["us-east-1"]
    assert failed["eu-central-1"].startswith("bulk offer file (eu-central-1): ")  # 404
    assert "not in the AWS price list region index" in failed["sa-east-1"]
    assert "unknown AWS region" in failed["mars-north-1"]
    assert [m for r, m in log if r == "us-east-1"][-1] == f"done: {len(catalog.rows)} rows"


def test_index_unreachable_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    canned = Wire({INDEX_PATH: [(500, {"Retry-After": "0"}, b"oops")]})
    monkeypatch.setattr(HTTPConnectionPool, "_make_request",
                        lambda pool, conn, method, url, **kw: canned(pool, conn, method, url))
    with pytest.raises(CatalogFetchError, match="region index") as info:
        fetch(["us-east-1"])
    assert "\n" not in str(info.value) and info.value.exit_code == 4
    assert len(canned.paths) == aws_bulk.RETRY_TOTAL + 1  # first try + urllib3's retries


def test_offer_is_streamed_in_any_chunking() -> None:
    text = body("offer_us-east-1.json").decode()
    whole = aws_bulk.read_offer(iter([text]), frozenset(FAMILIES))
    for size in (1, 7, 4096):
        parts = aws_bulk.read_offer(iter(text[i:i + size] for i in range(0, len(text), size)),
                                    frozenset(FAMILIES))
        assert parts == whole
    assert whole.meta["publicationDate"] == "2026-11-20T19:04:52Z"


def test_stream_bounds_one_value_and_rejects_bad_json() -> None:
    big = '{"products": {"A": "' + "x" * 5000 + '"}}'
    stream = JsonStream(iter(big[i:i + 100] for i in range(0, len(big), 100)),
                        max_value_chars=1000)
    with pytest.raises(JsonStreamError, match="larger than 1000"):
        for _key in stream.members():
            for _sku in stream.members():
                stream.value()
    with pytest.raises(JsonStreamError):
        aws_bulk.read_offer(iter(['{"products": {"A": {]}']), frozenset(FAMILIES))


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


def test_fetch_aws_falls_back_to_keyless_without_credentials(wire: Wire,
                                                             no_credentials: None) -> None:
    log: list[tuple[str, str]] = []
    catalog = aws.fetch_aws(["us-east-1"], session=boto3.Session(region_name="us-east-1"),
                            families=FAMILIES, now=NOW,
                            progress=lambda region, message: log.append((region, message)))
    assert log[0] == ("all", aws.NO_CREDENTIALS_FALLBACK)
    assert {r.source.kind for r in catalog.rows if r.source} == {"bulk"}


def test_fetch_aws_keyless_flag_skips_boto3(wire: Wire) -> None:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name="us-east-1")
    catalog = aws.fetch_aws(["us-east-1"], session=session, families=FAMILIES, now=NOW,
                            keyless=True)
    assert catalog.source.apis == ["AWS Price List Bulk API (public offer files, no credentials)"]
    assert json.loads(catalog.model_dump_json())["rows"]


def _walk(stream: JsonStream) -> Any:
    """Rebuild the next value through the streaming API (objects member by member)."""
    if stream.at_object():
        return {key: _walk(stream) for key in stream.members()}
    return stream.value()


def test_stream_equals_json_loads_for_any_document_and_chunking() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scalars = (st.none() | st.booleans() | st.integers(-10**12, 10**12)
               | st.decimals(allow_nan=False, allow_infinity=False, places=6)
               | st.text(max_size=8))
    docs = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)

    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(st.text(max_size=6), docs, max_size=5), st.integers(1, 17),
           st.sampled_from([None, 1, 2]))
    def check(doc: dict[str, Any], size: int, indent: int | None) -> None:
        text = json.dumps(doc, indent=indent, default=str)
        expected = json.loads(text, parse_float=Decimal)
        stream = JsonStream(text[i:i + size] for i in range(0, len(text), size))
        assert _walk(stream) == expected

    check()


def test_keyless_fallback_does_not_silently_drop_the_last_good_spot_prices(
        wire: Wire, no_credentials: None, tmp_path: Path) -> None:
    """A scheduled refresh that finds no credentials falls back to the bulk files, which
    carry no spot prices: the store must not quietly wipe the spot prices it had."""
    from planner.errors import CatalogStoreError
    from planner.refresh.store import refresh_catalog, write_catalog

    keyless = fetch(["us-east-1"])
    spot_at = datetime(2026, 11, 21, 5, 0, tzinfo=UTC)
    with_spot = keyless.model_copy(update={"rows": [
        r.model_copy(update={"spot_price_per_hour": r.price_per_hour / 3,
                             "spot_price_at": spot_at})
        for r in keyless.rows]})
    path = write_catalog(with_spot, tmp_path)
    before = path.read_bytes()

    def refresh(regions: list[str], **kwargs: Any) -> CatalogFile:
        return aws.fetch_aws(regions, session=boto3.Session(region_name="us-east-1"),
                             families=FAMILIES, now=NOW, **kwargs)

    with pytest.raises(CatalogStoreError, match=r"spot prices lost on 6 of 6 rows"):
        refresh_catalog("aws", ["us-east-1"], tmp_path, fetch=refresh)
    assert path.read_bytes() == before
    result = refresh_catalog("aws", ["us-east-1"], tmp_path, fetch=refresh, force=True)
    assert result.forced


def test_one_invalid_offer_row_is_skipped_and_counted_not_the_region() -> None:
    """A type whose row fails validation (a monthly price given as hourly) is skipped and
    counted (``invalid_row``, as Azure counts one); the region keeps its other types."""
    from planner.providers.aws.offers import OfferPrices

    def product(name: str) -> aws_bulk.BulkProduct:
        return aws_bulk.BulkProduct(instance_type=name, vcpus=2, memory_gib=8.0, gpus=0.0,
                                    processor="Intel Xeon")

    offer = aws_bulk.Offer(
        products={"m7i.large": product("m7i.large"), "m7i.xlarge": product("m7i.xlarge")},
        prices={"m7i.large": OfferPrices(on_demand=Decimal("0.1008")),
                "m7i.xlarge": OfferPrices(on_demand=Decimal("1471.68"))})  # monthly
    rows, skipped = aws_bulk.offer_rows("us-east-1", "US", offer, "https://x/index.json", NOW)
    assert [r.instance_type for r in rows] == ["m7i.large"]
    assert skipped == {"invalid_row": 1}
