"""Names a user can find: user regions with city aliases, ``planner regions``, site
suggestions by city and country, hints that never cut a list silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from planner import api
from planner.cli.main import cli
from planner.compile.resolve import build_world
from planner.errors import InputError
from planner.models.portfolio import Portfolio
from planner.vocab.latency import canonical_user_region, user_region_aliases, user_regions
from planner.vocab.suggest import listing, site_hint, suggest_sites

REPO = Path(__file__).resolve().parent.parent
CATALOGS = REPO / "catalogs"


def portfolio(users: list[str], **settings: Any) -> Portfolio:
    return Portfolio.model_validate({
        "name": "names",
        "cloud": {"providers": ["aws", "azure"]},
        "settings": settings,
        "workloads": [{
            "id": "web", "team": "t", "dataset": {"size_gb": 1, "home": "aws:eu-west-2"},
            "stages": [{"kind": "inference", "vcpus": 2, "memory_gib": 4, "hours": 100,
                        "latency": {"max_ms": 8, "users": users}}],
        }],
    })


def cloud_sites() -> list[str]:
    return [f"{c.catalog.provider}:{r}" for c in api.load_catalogs(CATALOGS)
            for r in c.catalog.regions]


# ---------------------------------------------------------------- user regions

def test_city_names_are_aliases_of_the_regions_they_stand_for() -> None:
    aliases = user_region_aliases()
    assert aliases["london"] == "uk" and aliases["frankfurt"] == "eu-central"
    assert aliases["paris"] == "fr" and aliases["new-york"] == "us-east"
    regions = user_regions()
    for alias, target in aliases.items():
        assert target in regions, alias
        assert alias not in regions, alias
    assert canonical_user_region("New York") == "us-east"
    assert canonical_user_region("atlantis") is None


def test_frankfurt_and_london_plan_like_their_region_names() -> None:
    catalogs = api.load_catalogs(CATALOGS)
    by_city = api.plan(portfolio(["london"]), catalogs, time_limit_s=10)
    by_name = api.plan(portfolio(["uk"]), catalogs, time_limit_s=10)
    assert by_city.feasible and by_name.feasible
    assert {p.site for p in by_city.placements} == {p.site for p in by_name.placements}
    assert {p.site for p in by_city.placements} <= {"aws:eu-west-2", "azure:uksouth"}
    world = build_world(portfolio(["frankfurt", "london"]), catalogs)
    for site in world.sites:
        assert world.rtt_ms(site, "frankfurt") == world.rtt_ms(site, "eu-central")


def test_a_measured_round_trip_applies_under_every_name_of_the_region() -> None:
    catalogs = api.load_catalogs(CATALOGS)
    p = portfolio(["london"], latency_ms={"aws:eu-central-1": {"uk": 3}})
    world = build_world(p, catalogs)
    assert world.rtt_ms("aws:eu-central-1", "london") == 3
    assert world.rtt_ms("aws:eu-central-1", "uk") == 3
    both = portfolio(["london"], latency_ms={"aws:eu-central-1": {"uk": 3, "london": 4}})
    assert build_world(both, catalogs).rtt_ms("aws:eu-central-1", "london") == 4


def test_a_portfolio_may_reuse_a_city_name_for_its_own_region() -> None:
    p = portfolio(["london"], user_regions={"london": {"lat": 42.98, "lon": -81.25}})
    world = build_world(p, api.load_catalogs(CATALOGS))  # London, Ontario
    assert world.user_regions["london"] == (42.98, -81.25)


def test_unknown_user_region_lists_every_name_and_the_command() -> None:
    with pytest.raises(InputError) as err:
        build_world(portfolio(["atlantis"]), api.load_catalogs(CATALOGS))
    text = str(err.value)
    assert "workloads[0].stages[0].latency.users[0]" in text
    for name in user_regions():
        assert name in text, name
    assert "`planner regions`" in text and "settings.user_regions" in text
    with pytest.raises(InputError, match="did you mean 'frankfurt'"):
        build_world(portfolio(["Frankfurt"]), api.load_catalogs(CATALOGS))


# ---------------------------------------------------------------- site suggestions

def test_a_city_in_a_mistyped_site_id_points_to_that_city() -> None:
    sites = cloud_sites()
    # The bundled catalogs price Frankfurt and London on AWS only (Azure: 4 US regions).
    assert suggest_sites("aws:eu-frankfurt-1", sites) == ["aws:eu-central-1"]
    assert suggest_sites("frankfurt", sites)[:1] == ["aws:eu-central-1"]
    assert suggest_sites("azure:london", sites) == ["aws:eu-west-2"]
    assert suggest_sites("azure:virginia", sites) == ["azure:eastus", "azure:eastus2"]
    hint = site_hint("aws:eu-frankfurt-1", sites)
    assert hint.startswith("did you mean 'aws:eu-central-1'? (Frankfurt, DE)")
    assert "eu-north-1" not in hint
    both = [*sites, "azure:germanywestcentral"]  # same provider first when both exist
    assert suggest_sites("azure:frankfurt", both)[:2] == [
        "azure:germanywestcentral", "aws:eu-central-1"]


def test_a_country_name_points_to_that_countrys_sites() -> None:
    found = suggest_sites("azure:germany", [*cloud_sites(), "azure:germanywestcentral"])
    assert found[0] == "azure:germanywestcentral"
    assert set(found) <= {"azure:germanywestcentral", "aws:eu-central-1"}
    assert suggest_sites("azure:germany", cloud_sites()) == ["aws:eu-central-1"]
    assert suggest_sites("aws:sweden", cloud_sites())[0] == "aws:eu-north-1"


def test_spelling_decides_without_a_place_name() -> None:
    assert suggest_sites("aws:eu-centrl-1", cloud_sites()) == ["aws:eu-central-1"]
    assert suggest_sites("onprem:berlin-dcc", ["onprem:berlin-dc", "aws:eu-west-1"]) == [
        "onprem:berlin-dc"]


def test_residency_site_typo_in_a_portfolio(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "examples" / "hospital-group.yaml").read_text())
    data["workloads"][0]["residency"] = {"sites": ["aws:eu-frankfurt-1"]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(cli, ["validate", str(path), "--catalogs", str(CATALOGS)])
    assert result.exit_code == 2
    assert "did you mean 'aws:eu-central-1'? (Frankfurt, DE)" in result.stderr
    assert "residency.sites[0]" in result.stderr


def test_long_lists_say_how_many_more() -> None:
    names = [f"n{i:02d}" for i in range(20)]
    assert listing(names) == ", ".join(names[:12]) + ", … (8 more)"
    assert listing(names[:3]) == "n00, n01, n02"


# ---------------------------------------------------------------- planner regions

def test_regions_lists_cloud_sites_and_user_regions(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # works outside the repository
    monkeypatch.delenv("PLANNER_CATALOGS", raising=False)
    result = CliRunner().invoke(cli, ["regions", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    sites = {s["id"]: s for s in data["sites"]}
    assert set(sites) == set(cloud_sites())
    fra = sites["aws:eu-central-1"]
    assert (fra["country"], fra["city"]) == ("DE", "Frankfurt")
    assert "EU" in fra["jurisdictions"] and "c5" in fra["certifications"]
    users = {u["name"]: u for u in data["user_regions"]}
    assert set(users) == set(user_regions())
    assert "london" in users["uk"]["aliases"] and users["uk"]["lat"] == pytest.approx(51.51)
    table = CliRunner().invoke(cli, ["regions"])
    assert table.exit_code == 0
    assert "aws:eu-central-1" in table.stdout and "azure:eastus" in table.stdout
    assert "london" in table.stdout


def test_regions_of_a_portfolio_include_its_onprem_sites_and_own_regions(
        tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "examples" / "hospital-group.yaml").read_text())
    data.setdefault("settings", {})["user_regions"] = {"clinic-west": {"lat": 50.0, "lon": 6.0}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(cli, ["regions", str(path), "--json",
                                      "--catalogs", str(CATALOGS)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    berlin = next(s for s in out["sites"] if s["id"] == "onprem:berlin-dc")
    assert berlin["kind"] == "onprem" and "DE-HEALTH" in berlin["jurisdictions"]
    own = next(u for u in out["user_regions"] if u["name"] == "clinic-west")
    assert own["source"] == "portfolio"


def test_portfolio_schema_enumerates_user_region_names() -> None:
    schema = json.loads((REPO / "planner/docs/schemas/portfolio.schema.json").read_text())
    items = schema["$defs"]["Latency"]["properties"]["users"]["items"]
    enum = items["anyOf"][0]["enum"]
    assert {"uk", "london", "frankfurt", "eu-central"} <= set(enum)
    assert items["anyOf"][1] == {"type": "string"}  # the portfolio's own names
