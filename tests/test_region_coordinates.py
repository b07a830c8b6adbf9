"""Every cloud region has plausible metro coordinates (used to estimate network latency), and
the named end-user regions for latency SLOs are present with valid coordinates."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from planner.vocab.jurisdictions import region_table


def _user_regions() -> dict[str, dict[str, object]]:
    text = resources.files("planner").joinpath("data/user_regions.json").read_text("utf-8")
    data = json.loads(text)
    assert data["note"]
    regions: dict[str, dict[str, object]] = data["user_regions"]
    return regions


def _valid(lat: object, lon: object) -> bool:
    return (
        isinstance(lat, int | float)
        and isinstance(lon, int | float)
        and not isinstance(lat, bool)
        and not isinstance(lon, bool)
        and -90 <= lat <= 90
        and -180 <= lon <= 180
    )


@pytest.mark.parametrize("provider", ["aws", "azure"])
def test_every_region_has_valid_coordinates(provider: str) -> None:
    regions = region_table()[provider]
    assert regions
    for region, facts in regions.items():
        assert "lat" in facts and "lon" in facts, (provider, region)
        assert _valid(facts["lat"], facts["lon"]), (provider, region, facts)


@pytest.mark.parametrize(
    ("provider", "region", "lat", "lon"),
    [
        ("aws", "eu-central-1", 50.1, 8.7),  # Frankfurt
        ("aws", "us-east-1", 38.95, -77.45),  # N. Virginia
        ("azure", "westeurope", 52.37, 4.90),  # Amsterdam
        ("azure", "germanywestcentral", 50.1, 8.7),
    ],
)
def test_spot_check_within_one_degree(provider: str, region: str, lat: float, lon: float) -> None:
    facts = region_table()[provider][region]
    assert abs(float(facts["lat"]) - lat) <= 1  # type: ignore[arg-type]
    assert abs(float(facts["lon"]) - lon) <= 1  # type: ignore[arg-type]


def test_hemisphere_spot_checks() -> None:
    aws = region_table()["aws"]
    assert float(aws["us-west-2"]["lon"]) < -115  # type: ignore[arg-type]
    assert float(aws["ap-southeast-2"]["lat"]) < -30  # type: ignore[arg-type]
    assert float(aws["sa-east-1"]["lat"]) < 0  # type: ignore[arg-type]
    assert float(region_table()["azure"]["australiaeast"]["lat"]) < -30  # type: ignore[arg-type]


def test_user_regions_have_valid_coordinates() -> None:
    regions = _user_regions()
    assert len(regions) >= 15
    for name, facts in regions.items():
        assert _valid(facts["lat"], facts["lon"]), (name, facts)
        assert facts["description"], name
    for name in ("eu-central", "us-east", "asia-southeast", "au-east"):
        assert name in regions, name
    assert abs(float(regions["eu-central"]["lat"]) - 50.1) <= 1  # type: ignore[arg-type]
