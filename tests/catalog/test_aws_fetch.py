"""Offline tests of the AWS catalog fetcher (planner.providers.aws.fetch).

Real boto3 clients (fake credentials, the fetcher's own retry config) answered by
``botocore.stub.Stubber`` from recorded-shape fixtures in ``tests/fixtures/aws``.

Stubber answers in the ``before-call`` event, *before* botocore's retry handler,
so a stubbed error is never retried (``test_stubber_bypasses_botocore_retries``).
The retry tests therefore answer one level lower, in ``before-send``: the request
is built, signed and its response parsed and judged by botocore's retry handler
exactly as on the wire; only the socket is replaced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

from planner.catalog.schema import CatalogFile, RowSource
from planner.errors import CatalogFetchError
from planner.providers.aws import fetch as aws
from planner.providers.aws.offers import OfferPrices
from planner.providers.aws.request import DEFAULT_FAMILIES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "aws"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
FAMILIES = ("p4d", "p4de", "p5", "g5", "m7i", "m7g", "inf2", "trn1")
US_TOKEN = ("WGDY7ko8fQXdlaUZVdasFQ==:RVSagyIFn770XQOzdUIcO9BY6ucBG9itXAZGZF/"
            "zioUzOsUKh6PCcPWaOyPZRiMe")
TYPES_TOKEN = "AAEAAdRSDcYgWLBFtENaqcr0Y8U6nOVkr4lwwCO2ZdHAnKkGAAAAAAAAAAPOb2Ac"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> boto3.session.Session:
    """A boto3 session with fake static credentials, isolated from the user's AWS config."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS",
                "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_PRICING", "AWS_ENDPOINT_URL_EC2",
                "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         region_name="eu-west-1")


class Clients:
    """Client factory for ``fetch_aws``: real clients from the fetcher's own factory
    (so they carry its retry config), stubbed per (service, region)."""

    def __init__(self, session: boto3.session.Session) -> None:
        self._make = aws.session_client_factory(session)
        self._clients: dict[tuple[str, str], BaseClient] = {}
        self.stubbers: dict[tuple[str, str], Stubber] = {}
        self.requested: list[tuple[str, str]] = []

    def client(self, service: str, region: str) -> BaseClient:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._make(service, region)
        return self._clients[key]

    def stub(self, service: str, region: str) -> Stubber:
        key = (service, region)
        if key not in self.stubbers:
            self.stubbers[key] = Stubber(self.client(service, region))
            self.stubbers[key].activate()
        return self.stubbers[key]

    def __call__(self, service: str, region: str) -> BaseClient:
        self.requested.append((service, region))
        return self.client(service, region)

    def assert_no_pending(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def clients(session: boto3.session.Session) -> Iterator[Clients]:
    made = Clients(session)
    yield made
    made.assert_no_pending()


def pricing_params(region: str, token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1",
                              "Filters": aws.pricing_filters(region), "MaxResults": 100}
    if token:
        params["NextToken"] = token
    return params


def type_filters(families: tuple[str, ...] = FAMILIES) -> list[dict[str, Any]]:
    return [{"Name": "instance-type", "Values": [f"{f}.*" for f in families]}]


def types_params(token: str | None = None, families: tuple[str, ...] = FAMILIES) -> dict[str, Any]:
    params: dict[str, Any] = {"Filters": type_filters(families), "MaxResults": 100}
    if token:
        params["NextToken"] = token
    return params


def spot_params(families: tuple[str, ...] = FAMILIES) -> dict[str, Any]:
    return {"StartTime": NOW, "ProductDescriptions": ["Linux/UNIX"],
            "Filters": type_filters(families), "MaxResults": 1000}


def stub_ec2(clients: Clients, region: str, spot: str | None,
             families: tuple[str, ...] = FAMILIES) -> None:
    """Two DescribeInstanceTypes pages (NextToken) and one spot page for ``region``."""
    ec2 = clients.stub("ec2", region)
    ec2.add_response("describe_instance_types", load("ec2_describe_instance_types_page1.json"),
                     types_params(families=families))
    ec2.add_response("describe_instance_types", load("ec2_describe_instance_types_page2.json"),
                     types_params(TYPES_TOKEN, families))
    history = load(spot) if spot else {"SpotPriceHistory": []}
    ec2.add_response("describe_spot_price_history", history, spot_params(families))


def stub_us_east_1(clients: Clients) -> None:
    pricing = clients.stub("pricing", "us-east-1")
    pricing.add_response("get_products", load("pricing_get_products_us-east-1_page1.json"),
                         pricing_params("us-east-1"))
    pricing.add_response("get_products", load("pricing_get_products_us-east-1_page2.json"),
                         pricing_params("us-east-1", US_TOKEN))
    stub_ec2(clients, "us-east-1", "ec2_describe_spot_price_history_us-east-1.json")


def stub_eu_central_1(clients: Clients) -> None:
    clients.stub("pricing", "us-east-1").add_response(
        "get_products", load("pricing_get_products_eu-central-1.json"),
        pricing_params("eu-central-1"))
    stub_ec2(clients, "eu-central-1", None)


def fetch(clients: Clients, regions: list[str], log: list[tuple[str, str]] | None = None,
          families: tuple[str, ...] | None = FAMILIES) -> CatalogFile:
    def progress(region: str, message: str) -> None:
        if log is not None:
            log.append((region, message))

    return aws.fetch_aws(regions, families=families, clients=clients, now=NOW, progress=progress)


def row(catalog: CatalogFile, region: str, instance_type: str) -> Any:
    matches = [r for r in catalog.rows if (r.region, r.instance_type) == (region, instance_type)]
    assert len(matches) == 1, f"{region}/{instance_type}: {len(matches)} rows"
    return matches[0]


@pytest.fixture
def two_regions(clients: Clients) -> tuple[CatalogFile, list[tuple[str, str]]]:
    stub_us_east_1(clients)
    stub_eu_central_1(clients)
    log: list[tuple[str, str]] = []
    return fetch(clients, ["us-east-1", "eu-central-1"], log), log


def test_paginates_and_builds_envelope(two_regions: tuple[CatalogFile, list[tuple[str, str]]],
                                       clients: Clients) -> None:
    catalog, log = two_regions
    clients.assert_no_pending()  # both get_products and describe_instance_types pages consumed
    assert catalog.provider == "aws" and catalog.currency == "USD"
    assert catalog.fetched_at == NOW and catalog.regions == ["eu-central-1", "us-east-1"]
    assert catalog.failed_regions == []
    assert log == [("us-east-1", "fetching prices"), ("us-east-1", "done: 8 rows"),
                   ("eu-central-1", "fetching prices"), ("eu-central-1", "done: 4 rows")]
    # the pricing API is always called in us-east-1, whatever the fetched region
    assert ("pricing", "us-east-1") in clients.requested
    assert {s for s, _ in clients.requested} == {"pricing", "ec2"}
    assert catalog.egress is None  # egress prices live in planner/data/egress.json
    params = catalog.source.parameters
    assert params["families"] == list(FAMILIES)
    assert {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"} in params[
        "pricing_filters"]
    # eu-central-1 lists p4de, p5, inf2 and trn1 but prices none of them
    assert params["skipped_rows"] == {"eu-central-1": {"no_on_demand_price": 4}}
    assert catalog.source.note and "4 instance types skipped" in catalog.source.note
    assert "https://api.pricing.us-east-1.amazonaws.com" in catalog.source.endpoints
    # t3.micro is priced but outside the requested families
    assert all(r.family in FAMILIES for r in catalog.rows)
    assert {r.country for r in catalog.rows} == {"US", "DE"}
    again = CatalogFile.model_validate_json(catalog.model_dump_json())
    assert again == catalog


def test_gpu_normalization(two_regions: tuple[CatalogFile, list[tuple[str, str]]]) -> None:
    catalog, _ = two_regions
    p4d = row(catalog, "us-east-1", "p4d.24xlarge")
    p4de = row(catalog, "us-east-1", "p4de.24xlarge")
    assert (p4d.gpu_model, p4d.gpu_count, p4d.gpu_memory_gib) == ("A100-40GB", 8, 320)
    assert (p4de.gpu_model, p4de.gpu_count, p4de.gpu_memory_gib) == ("A100-80GB", 8, 640)
    assert p4d.gpu_vendor == "nvidia" and p4d.vcpus == 96 and p4d.memory_gib == 1152
    assert row(catalog, "us-east-1", "p5.48xlarge").gpu_model == "H100"
    g5 = row(catalog, "us-east-1", "g5.xlarge")
    assert (g5.gpu_model, g5.gpu_count) == ("A10G", 1)
    inf2 = row(catalog, "us-east-1", "inf2.xlarge")
    assert (inf2.gpu_model, inf2.gpu_vendor, inf2.gpu_count, inf2.gpu_memory_gib) == (
        "Inferentia2", "aws", 1, 32)
    assert row(catalog, "us-east-1", "trn1.2xlarge").gpu_model == "Trainium"
    m7g = row(catalog, "us-east-1", "m7g.large")
    assert (m7g.architecture, m7g.gpu_model, m7g.gpu_count) == ("arm64", None, 0)
    assert row(catalog, "us-east-1", "m7i.large").architecture == "x86_64"


def test_prices_are_decimal_and_spot_is_min_across_azs(
        two_regions: tuple[CatalogFile, list[tuple[str, str]]]) -> None:
    catalog, _ = two_regions
    for r in catalog.rows:
        assert isinstance(r.price_per_hour, Decimal)
        assert r.spot_price_per_hour is None or isinstance(r.spot_price_per_hour, Decimal)
    g5 = row(catalog, "us-east-1", "g5.xlarge")
    assert g5.price_per_hour == Decimal("1.006") and str(g5.price_per_hour) == "1.006"
    # g5.xlarge: us-east-1a 0.4321, us-east-1b 0.3907, us-east-1f 0.4122
    assert g5.spot_price_per_hour == Decimal("0.3907")
    assert g5.spot_price_at == datetime(2026, 1, 15, 10, 7, 41, tzinfo=UTC)
    assert row(catalog, "us-east-1", "m7i.large").spot_price_per_hour == Decimal("0.0398")
    assert row(catalog, "us-east-1", "p5.48xlarge").spot_price_per_hour is None
    assert row(catalog, "us-east-1", "trn1.2xlarge").price_per_hour == Decimal("1.34375")
    assert row(catalog, "eu-central-1", "p4d.24xlarge").price_per_hour == Decimal("27.4471")
    assert row(catalog, "eu-central-1", "g5.xlarge").spot_price_per_hour is None


def test_row_order_is_deterministic(session: boto3.session.Session) -> None:
    outputs = []
    for order in (["us-east-1", "eu-central-1"], ["eu-central-1", "us-east-1"]):
        clients = Clients(session)
        for region in order:
            (stub_us_east_1 if region == "us-east-1" else stub_eu_central_1)(clients)
        catalog = fetch(clients, order)
        clients.assert_no_pending()
        keys = [(r.region, r.instance_type) for r in catalog.rows]
        assert keys == sorted(keys)
        outputs.append(catalog.model_dump_json())
    assert outputs[0] == outputs[1]


def test_stubber_bypasses_botocore_retries(clients: Clients) -> None:
    """Why the retry tests use before-send: a Stubber error is raised at once."""
    pricing = clients.stub("pricing", "us-east-1")
    pricing.add_client_error("get_products", service_error_code="ThrottlingException",
                             http_status_code=400)
    with pytest.raises(ClientError, match="ThrottlingException"):
        clients.client("pricing", "us-east-1").get_products(ServiceCode="AmazonEC2")


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._data


def _json_response(request: AWSPreparedRequest, status: int, body: dict[str, Any]) -> AWSResponse:
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "test-request"}
    return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))


def test_throttling_is_retried_by_botocore(clients: Clients,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", sleeps.append)
    pages = [load("pricing_get_products_us-east-1_page1.json"),
             load("pricing_get_products_us-east-1_page2.json")]
    sent: list[str] = []
    throttled = {"done": False}

    def wire(request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse:
        body = json.loads(request.body or b"{}")
        sent.append(body.get("NextToken", "first"))
        if not throttled["done"]:  # the first attempt is throttled, like a busy Price List API
            throttled["done"] = True
            return _json_response(request, 400, {"__type": "ThrottlingException",
                                                 "message": "Rate exceeded"})
        return _json_response(request, 200, pages[1] if body.get("NextToken") else pages[0])

    pricing = clients.client("pricing", "us-east-1")
    # botocore turns max_attempts (retries) into total_max_attempts (calls) = retries + 1
    assert pricing.meta.config.retries == {"mode": "standard",
                                           "total_max_attempts": aws.MAX_ATTEMPTS + 1}
    pricing.meta.events.register("before-send.pricing.GetProducts", wire)
    stub_ec2(clients, "us-east-1", "ec2_describe_spot_price_history_us-east-1.json")
    catalog = fetch(clients, ["us-east-1"])
    assert sent == ["first", "first", US_TOKEN]  # the throttled page was re-sent once
    assert len(sleeps) == 1  # one backoff, by botocore's standard retry handler
    assert len(catalog.rows) == 8 and catalog.failed_regions == []


def test_failing_region_recorded_and_others_succeed(
        clients: Clients, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _s: None)
    stub_us_east_1(clients)
    clients.stub("pricing", "us-east-1").add_response(
        "get_products", {"FormatVersion": "aws_v1", "PriceList": []}, pricing_params("eu-west-1"))
    attempts: list[str] = []

    def down(request: AWSPreparedRequest, **_kwargs: Any) -> None:
        attempts.append(request.url)
        raise EndpointConnectionError(endpoint_url=request.url)

    clients.client("ec2", "eu-west-1").meta.events.register("before-send.ec2", down)
    log: list[tuple[str, str]] = []
    catalog = fetch(clients, ["us-east-1", "eu-west-1"], log)
    assert len(attempts) == aws.MAX_ATTEMPTS + 1  # first call + botocore's retries
    assert catalog.regions == ["us-east-1"] and len(catalog.rows) == 8
    [failure] = catalog.failed_regions
    assert failure.region == "eu-west-1"
    assert failure.error.startswith("ec2:DescribeInstanceTypes (eu-west-1): ")
    assert "https://ec2.eu-west-1.amazonaws.com" in failure.error
    assert log[-1] == ("eu-west-1", f"failed: {failure.error}")


def test_unknown_region_recorded_not_crashing(clients: Clients) -> None:
    stub_us_east_1(clients)
    catalog = fetch(clients, ["mars-north-1", "us-east-1"])
    assert catalog.regions == ["us-east-1"]
    [failure] = catalog.failed_regions
    assert failure.region == "mars-north-1" and "unknown AWS region" in failure.error
    assert ("ec2", "mars-north-1") not in clients.requested


def test_every_region_failed_raises(clients: Clients) -> None:
    clients.stub("pricing", "us-east-1")
    with pytest.raises(CatalogFetchError, match="every AWS region failed"):
        fetch(clients, ["mars-north-1"])


@pytest.mark.parametrize("code", ["AccessDeniedException", "ExpiredTokenException"])
def test_pricing_auth_error_raises_with_iam_hint(clients: Clients, code: str) -> None:
    clients.stub("pricing", "us-east-1").add_client_error(
        "get_products", service_error_code=code, http_status_code=400,
        service_message="User: arn:aws:iam::123456789012:user/planner is not authorized to "
                        "perform: pricing:GetProducts", expected_params=pricing_params("us-east-1"))
    with pytest.raises(CatalogFetchError) as info:
        fetch(clients, ["us-east-1", "eu-central-1"])
    text = str(info.value)
    assert "\n" not in text and code in text and info.value.exit_code == 4
    assert text.startswith("aws: AWS Price List API refused the request")
    for action in aws.REQUIRED_IAM_ACTIONS:
        assert action in text
    assert "testing" not in text  # the (fake) secret never appears


def test_missing_credentials_raise_with_hint(clients: Clients) -> None:
    clients.stub("pricing", "us-east-1")
    pricing = clients.client("pricing", "us-east-1")
    clients.stubbers[("pricing", "us-east-1")].deactivate()

    def no_credentials(**_kwargs: Any) -> None:
        raise NoCredentialsError()

    pricing.meta.events.register("before-sign.pricing.GetProducts", no_credentials)
    with pytest.raises(CatalogFetchError, match="Unable to locate credentials") as info:
        fetch(clients, ["us-east-1"])
    assert "pricing:GetProducts" in str(info.value)


def test_ec2_unauthorized_everywhere_raises_with_iam_hint(clients: Clients) -> None:
    clients.stub("pricing", "us-east-1").add_response(
        "get_products", load("pricing_get_products_eu-central-1.json"),
        pricing_params("eu-central-1"))
    clients.stub("ec2", "eu-central-1").add_client_error(
        "describe_instance_types", service_error_code="UnauthorizedOperation",
        service_message="You are not authorized to perform this operation.")
    with pytest.raises(CatalogFetchError, match="UnauthorizedOperation") as info:
        fetch(clients, ["eu-central-1"])
    assert "ec2:DescribeInstanceTypes" in str(info.value).split("(check", 1)[1]


def test_default_families_are_requested(clients: Clients) -> None:
    families = DEFAULT_FAMILIES
    assert {"p5", "p4d", "p4de", "p3", "g6", "g6e", "g5", "g4dn", "m7i", "c7i", "r7i"} <= set(
        families)
    clients.stub("pricing", "us-east-1").add_response(
        "get_products", load("pricing_get_products_eu-central-1.json"),
        pricing_params("eu-central-1"))
    stub_ec2(clients, "eu-central-1", None, families)
    catalog = fetch(clients, ["eu-central-1"], families=None)
    assert catalog.source.parameters["families"] == list(families)
    assert [r.instance_type for r in catalog.rows] == [
        "g5.xlarge", "m7g.large", "m7i.large", "p4d.24xlarge"]


def test_spot_is_the_lowest_current_zone_price(
        two_regions: tuple[CatalogFile, list[tuple[str, str]]]) -> None:
    """p4d.24xlarge in the recorded history: 1a 7.8799 (listed first, the issue's wrong
    value), 1b 2.4655, 1c 8.5148 now but 1.9531 six hours ago (superseded), and a Local
    Zone at 1.101 (not a zone of the region). The region's price is 1b's, with its time."""
    catalog, _ = two_regions
    p4d = row(catalog, "us-east-1", "p4d.24xlarge")
    assert p4d.spot_price_per_hour == Decimal("2.4655")
    assert p4d.spot_price_at == datetime(2026, 1, 15, 9, 44, 3, tzinfo=UTC)
    # m7i.large: 1a's older 0.0351 is superseded by its current 0.0398
    assert row(catalog, "us-east-1", "m7i.large").spot_price_per_hour == Decimal("0.0398")


def test_region_spot_rules() -> None:
    from planner.providers.aws.spot import is_region_zone, region_spot

    assert is_region_zone("us-east-1b", "us-east-1")
    assert not is_region_zone("us-east-1-bos-1a", "us-east-1")
    assert not is_region_zone("us-east-2a", "us-east-1")
    entries = [
        {"AvailabilityZone": "eu-west-1a", "InstanceType": "x.large", "SpotPrice": "0.5",
         "ProductDescription": "Linux/UNIX", "Timestamp": datetime(2026, 1, 1, 9, tzinfo=UTC)},
        {"AvailabilityZone": "eu-west-1a", "InstanceType": "x.large", "SpotPrice": "0.2",
         "ProductDescription": "Windows", "Timestamp": datetime(2026, 1, 1, 10, tzinfo=UTC)},
        {"AvailabilityZone": "eu-west-1b", "InstanceType": "x.large", "SpotPrice": "0.5",
         "ProductDescription": "Linux/UNIX", "Timestamp": "2026-01-01T08:00:00Z"},
    ]
    quote = region_spot(entries, "eu-west-1")["x.large"]
    assert (quote.price, quote.zone) == (Decimal("0.5"), "eu-west-1a")  # tie: zone name


def test_commitment_prices_from_reserved_terms(
        two_regions: tuple[CatalogFile, list[tuple[str, str]]]) -> None:
    catalog, _ = two_regions
    p4d = row(catalog, "us-east-1", "p4d.24xlarge")
    # Standard No Upfront only: not Partial Upfront, not convertible, not a zero rate
    assert (p4d.commit_1y_per_hour, p4d.commit_3y_per_hour) == (Decimal("13.439"),
                                                                Decimal("8.7426"))
    assert row(catalog, "us-east-1", "g5.xlarge").commit_1y_per_hour is None
    assert p4d.source is not None and p4d.source.kind == "api"
    assert p4d.source.fetched_at == NOW and "GetProducts" in p4d.source.ref
    assert all(r.source is not None for r in catalog.rows)


def test_parse_price_item_skips_non_run_instances() -> None:
    page = load("pricing_get_products_us-east-1_page1.json")
    first = json.loads(page["PriceList"][0])
    parsed = aws.parse_price_item(json.dumps(first))
    assert parsed is not None and parsed[0] == "p4d.24xlarge"
    assert parsed[1].on_demand == Decimal("21.9576")
    first["product"]["attributes"]["operation"] = "RunInstances:0002"  # Windows
    assert aws.parse_price_item(json.dumps(first)) is None


def test_parse_price_item_skips_products_of_a_local_zone() -> None:
    # A Local Zone's products name their parent region but have prices of their own: a
    # type sold there would otherwise get a row, or lower the region's price.
    page = load("pricing_get_products_us-east-1_page1.json")
    first = json.loads(page["PriceList"][0])
    first["product"]["attributes"]["locationType"] = "AWS Region"
    assert aws.parse_price_item(json.dumps(first)) is not None
    first["product"]["attributes"]["locationType"] = "AWS Local Zone"
    first["product"]["attributes"]["location"] = "US East (Boston)"
    assert aws.parse_price_item(json.dumps(first)) is None


def test_build_row_skips_unknown_accelerator_and_zero_price() -> None:
    b200 = {"InstanceType": "p6-b200.48xlarge",
            "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]},
            "VCpuInfo": {"DefaultVCpus": 192}, "MemoryInfo": {"SizeInMiB": 2097152},
            "GpuInfo": {"Gpus": [{"Name": "B200", "Manufacturer": "NVIDIA", "Count": 8,
                                  "MemoryInfo": {"SizeInMiB": 183359}}],
                        "TotalGpuMemoryInMiB": 1466872}}
    src = RowSource(kind="api", ref="test", fetched_at=NOW)
    row = aws.build_row("us-east-1", "US", b200, OfferPrices(Decimal("113.93")), None, src)
    assert not isinstance(row, str) and row.gpu_model == "B200" and row.gpu_count == 8
    future = {**b200, "GpuInfo": {"Gpus": [{"Name": "X900", "Manufacturer": "NVIDIA",
                                            "Count": 8, "MemoryInfo": {"SizeInMiB": 1}}]}}
    assert aws.build_row("us-east-1", "US", future, OfferPrices(Decimal("113.93")), None,
                         src) == "unknown_accelerator:X900"
    assert aws.build_row("us-east-1", "US", b200, OfferPrices(Decimal("0")), None,
                         src) == "no_on_demand_price"
    mac = {**b200, "InstanceType": "mac2.metal", "GpuInfo": {"Gpus": []},
           "ProcessorInfo": {"SupportedArchitectures": ["arm64_mac"]}}
    assert aws.build_row("us-east-1", "US", mac, OfferPrices(Decimal("0.65")), None,
                         src) == "unsupported_architecture"


def test_access_denied_refresh_keeps_last_good_catalog(clients: Clients, tmp_path: Path) -> None:
    """End to end through the store: the real fetcher meets AccessDenied, the refresh fails
    with one clear line (exit 4), and the bundled catalog in the directory is untouched."""
    from planner.refresh.store import refresh_catalog

    bundled = Path(__file__).resolve().parents[2] / "catalogs" / "aws.json"
    target = tmp_path / "aws.json"
    target.write_bytes(bundled.read_bytes())
    before = target.read_bytes()
    clients.stub("pricing", "us-east-1").add_client_error(
        "get_products", service_error_code="AccessDeniedException", http_status_code=400,
        service_message="not authorized to perform: pricing:GetProducts",
        expected_params=pricing_params("us-east-1"))

    def fetcher(regions: list[str], progress: Any = None) -> CatalogFile:
        return aws.fetch_aws(regions, families=FAMILIES, clients=clients, now=NOW)

    with pytest.raises(CatalogFetchError) as info:
        refresh_catalog("aws", ["us-east-1"], tmp_path, fetch=fetcher)
    assert info.value.exit_code == 4 and "AccessDenied" in str(info.value)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".aws.json.lock", "aws.json"]  # no temp
    clients.assert_no_pending()


def test_a_zone_quoting_spot_at_zero_has_no_price() -> None:
    """A 0 quote is no price (it would make spot free in every plan): the zone is left out,
    and a type quoted 0 in every zone has no spot price."""
    from planner.providers.aws.spot import region_spot

    at = datetime(2026, 1, 1, 9, tzinfo=UTC)
    entries = [
        {"AvailabilityZone": "eu-west-1a", "InstanceType": "x.large", "SpotPrice": "0.0000",
         "ProductDescription": "Linux/UNIX", "Timestamp": at},
        {"AvailabilityZone": "eu-west-1b", "InstanceType": "x.large", "SpotPrice": "0.31",
         "ProductDescription": "Linux/UNIX", "Timestamp": at},
        {"AvailabilityZone": "eu-west-1a", "InstanceType": "y.large", "SpotPrice": "0",
         "ProductDescription": "Linux/UNIX", "Timestamp": at},
    ]
    quotes = region_spot(entries, "eu-west-1")
    assert quotes["x.large"].price == Decimal("0.31") and "y.large" not in quotes
