"""The region table covers every AWS commercial region and every Azure public region, with
valid ISO country codes, and the jurisdictions derived from those countries are right."""

from __future__ import annotations

import re

import pytest
from botocore.loaders import Loader

from planner.vocab.jurisdictions import (
    jurisdictions_of,
    region_certifications,
    region_country,
    region_table,
)


def _botocore_aws_ec2_regions() -> set[str]:
    """Regions of the commercial 'aws' partition that botocore's own endpoint data lists for EC2."""
    endpoints = Loader().load_data("endpoints")
    (partition,) = [p for p in endpoints["partitions"] if p["partition"] == "aws"]
    pattern = re.compile(partition["regionRegex"])
    ec2 = set(partition["services"]["ec2"]["endpoints"])
    return {r for r in ec2 if pattern.match(r) and r in partition["regions"]}


def test_every_botocore_aws_region_is_in_the_table() -> None:
    expected = _botocore_aws_ec2_regions()
    assert len(expected) >= 30
    missing = sorted(expected - set(region_table()["aws"]))
    assert not missing, f"AWS regions missing from planner/data/regions.json: {missing}"


def test_every_aws_partition_region_is_in_the_table() -> None:
    endpoints = Loader().load_data("endpoints")
    (partition,) = [p for p in endpoints["partitions"] if p["partition"] == "aws"]
    assert set(partition["regions"]) <= set(region_table()["aws"])


def test_azure_table_has_the_public_regions() -> None:
    azure = region_table()["azure"]
    assert len(azure) >= 50
    for region in ("eastus", "westeurope", "swedencentral", "germanywestcentral", "japaneast",
                   "southeastasia", "centralindia", "uaenorth", "qatarcentral", "israelcentral",
                   "mexicocentral", "newzealandnorth", "spaincentral", "italynorth",
                   "polandcentral"):
        assert region in azure, region


@pytest.mark.parametrize("provider", ["aws", "azure"])
def test_country_codes_are_iso_alpha2(provider: str) -> None:
    for region, facts in region_table()[provider].items():
        assert re.fullmatch(r"[A-Z]{2}", str(facts["country"])), (provider, region, facts)
        assert facts["city"], (provider, region)
        certs = facts["certifications"]
        assert isinstance(certs, list) and certs == sorted(certs), (provider, region)
        assert {"hipaa", "iso27001", "soc2"} <= set(certs), (provider, region)


@pytest.mark.parametrize(
    ("provider", "region", "country"),
    [
        ("aws", "us-east-1", "US"),
        ("aws", "eu-central-1", "DE"),
        ("aws", "eu-west-1", "IE"),
        ("aws", "eu-west-2", "GB"),
        ("aws", "eu-north-1", "SE"),
        ("aws", "eu-central-2", "CH"),
        ("aws", "me-central-1", "AE"),
        ("aws", "me-south-1", "BH"),
        ("aws", "il-central-1", "IL"),
        ("aws", "ap-northeast-1", "JP"),
        ("aws", "ap-southeast-2", "AU"),
        ("aws", "sa-east-1", "BR"),
        ("azure", "westeurope", "NL"),
        ("azure", "northeurope", "IE"),
        ("azure", "swedencentral", "SE"),
        ("azure", "germanywestcentral", "DE"),
        ("azure", "switzerlandnorth", "CH"),
        ("azure", "norwayeast", "NO"),
        ("azure", "uksouth", "GB"),
        ("azure", "uaenorth", "AE"),
        ("azure", "japaneast", "JP"),
    ],
)
def test_spot_checks(provider: str, region: str, country: str) -> None:
    assert region_country(provider, region) == country


def test_unknown_region_has_no_country() -> None:
    assert region_country("aws", "xx-nowhere-1") is None
    assert region_certifications("azure", "nowhere") == ()


def test_certification_rules() -> None:
    assert "c5" in region_certifications("aws", "eu-central-1")
    assert "c5" in region_certifications("azure", "germanywestcentral")
    assert "hds" in region_certifications("aws", "eu-west-3")
    assert "ens" in region_certifications("azure", "spaincentral")
    assert "irap" in region_certifications("aws", "ap-southeast-2")
    assert "c5" not in region_certifications("aws", "us-east-1")


def test_jurisdictions_of_eu_eea_and_adequacy() -> None:
    assert jurisdictions_of("DE") == {"DE", "EU", "EEA", "GDPR-ADEQUATE"}
    no = jurisdictions_of("NO")
    assert "EEA" in no and "EU" not in no
    ch = jurisdictions_of("CH")
    assert "GDPR-ADEQUATE" in ch and "EEA" not in ch and "EU" not in ch
    assert jurisdictions_of("US") == {"US"}
    assert jurisdictions_of("GB", ("UK-NHS",)) == {"GB", "GDPR-ADEQUATE", "UK-NHS"}
