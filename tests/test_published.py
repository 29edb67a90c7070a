"""A stored economy and a published plan: the same bytes, the same economy, the same digest."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest

import councilplan.economy.archive as archive
from councilplan.economy import DEMO_BUNDLE, EconomyError, load_demo, read_bundle
from councilplan.economy.archive import bundle_digest, economy_from_archive, pack_bundle
from councilplan.economy.model import make_economy
from councilplan.planning import Limits, PlanInputError, plan, read_needs
from councilplan.planning.needs import as_needs
from councilplan.planning.published import (
    canonical_bytes,
    inputs_digest,
    plan_digest,
    publish,
    with_norms,
)

TABLE_FILES = [
    "economy.toml",
    "inputs.csv",
    "labour_kinds.csv",
    "labour_use.csv",
    "products.csv",
    "resource_use.csv",
    "resources.csv",
    "techniques.csv",
]


@pytest.fixture(scope="module")
def demo():
    return load_demo()


@pytest.fixture(scope="module")
def town_needs(demo):
    return read_needs(DEMO_BUNDLE / "needs" / "town.csv", demo)


@pytest.fixture(scope="module")
def demo_plan(demo, town_needs):
    return plan(demo, town_needs)


def technique(economy, technique_id: str) -> int:
    return list(economy.technique_ids).index(technique_id)


# -- the archive -------------------------------------------------------------------------


def test_packing_the_demo_twice_and_from_a_copy_with_other_times_gives_the_same_bytes(tmp_path):
    packed = pack_bundle(DEMO_BUNDLE)
    assert pack_bundle(DEMO_BUNDLE) == packed
    copy = tmp_path / "demo"
    shutil.copytree(DEMO_BUNDLE, copy)
    for i, file in enumerate(sorted(copy.iterdir())):
        os.utime(file, (1_000_000 + i, 2_000_000_000 - 7 * i))
    (copy / "README.md").write_text("a note of our own\n")  # not part of the economy
    assert pack_bundle(copy) == packed
    assert bundle_digest(packed) == bundle_digest(pack_bundle(copy))

    members = zipfile.ZipFile(io.BytesIO(packed)).infolist()
    assert [m.filename for m in members] == TABLE_FILES
    assert {m.date_time for m in members} == {(1980, 1, 1, 0, 0, 0)}
    assert {m.external_attr >> 16 for m in members} == {0o100644}
    assert {m.extra for m in members} == {b""}
    for m in members:
        assert (
            zipfile.ZipFile(io.BytesIO(packed)).read(m) == (DEMO_BUNDLE / m.filename).read_bytes()
        )


def test_a_zipped_bundle_packs_as_its_folder_does(tmp_path):
    zipped = tmp_path / "town.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        for file in sorted(DEMO_BUNDLE.rglob("*")):
            z.write(file, "demo/" + file.relative_to(DEMO_BUNDLE).as_posix())
    assert pack_bundle(zipped) == pack_bundle(DEMO_BUNDLE)


def test_an_archive_reads_back_as_the_same_economy_kept_read_only(demo):
    packed = pack_bundle(DEMO_BUNDLE)
    economy = economy_from_archive(packed)
    assert economy == demo
    for name in ("technique_output", "labour", "resource_use", "capacity", "product_ids"):
        assert not getattr(economy, name).flags.writeable, name
        assert np.array_equal(getattr(economy, name), getattr(demo, name))
    assert not economy.inputs.data.flags.writeable
    assert economy_from_archive(bytes(packed)) is economy  # kept, by digest


def test_the_cache_keeps_the_last_few_economies(monkeypatch, tmp_path):
    monkeypatch.setattr(archive, "CACHE_SIZE", 1)
    monkeypatch.setattr(archive, "_cache", archive.OrderedDict())
    first = pack_bundle(DEMO_BUNDLE)
    other = tmp_path / "other"
    shutil.copytree(DEMO_BUNDLE, other)
    manifest = other / "economy.toml"
    manifest.write_text(manifest.read_text().replace('name = "demo"', 'name = "other"'))
    second = pack_bundle(other)
    kept = economy_from_archive(first)
    assert economy_from_archive(second).name == "other"
    assert economy_from_archive(first) is not kept  # pushed out by the second, read again
    assert economy_from_archive(first) == kept


def test_a_bundle_without_a_name_keeps_its_folders_name_in_the_archive(tmp_path):
    folder = tmp_path / "riverside"
    shutil.copytree(DEMO_BUNDLE, folder)
    manifest = folder / "economy.toml"
    manifest.write_text(manifest.read_text().replace('name = "demo"\n', ""))
    assert read_bundle(folder).name == "riverside"
    economy = economy_from_archive(pack_bundle(folder))
    assert economy.name == "riverside"
    assert economy == read_bundle(folder)


def test_a_bundle_with_a_misspelt_table_is_refused_as_read_bundle_refuses_it(tmp_path):
    folder = tmp_path / "town"
    shutil.copytree(DEMO_BUNDLE, folder)
    shutil.copy(folder / "inputs.csv", folder / "input.csv")
    with pytest.raises(EconomyError, match="unknown table 'input.csv'") as caught:
        pack_bundle(folder)
    assert str(folder / "input.csv") in str(caught.value)


def test_a_bad_row_is_named_by_file_and_row(tmp_path):
    folder = tmp_path / "town"
    shutil.copytree(DEMO_BUNDLE, folder)
    inputs = folder / "inputs.csv"
    lines = inputs.read_text().splitlines(keepends=True)
    technique_id, _, quantity = lines[3].rstrip("\n").split(",")
    lines[3] = f"{technique_id},grian,{quantity}\n"
    inputs.write_text("".join(lines))
    with pytest.raises(EconomyError, match="unknown product 'grian'") as caught:
        pack_bundle(folder)
    assert caught.value.where.row == 3
    assert caught.value.where.source == str(inputs)


def test_bytes_that_are_not_a_zip_are_refused_saying_so():
    with pytest.raises(EconomyError, match="not a zip file"):
        economy_from_archive(b"economy.toml, but not a zip at all")


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def demo_members() -> dict[str, bytes]:
    return {name: (DEMO_BUNDLE / name).read_bytes() for name in TABLE_FILES}


def test_a_member_outside_the_folder_is_refused_naming_it():
    members = demo_members() | {"../escaped.csv": b"id\nx\n"}
    with pytest.raises(EconomyError, match=r"member '\.\./escaped\.csv' \(a path outside"):
        economy_from_archive(zip_of(members))


def test_a_folder_or_stray_member_is_refused_naming_it():
    with pytest.raises(EconomyError, match=r"member 'needs/town\.csv' \(not one of a bundle"):
        economy_from_archive(zip_of(demo_members() | {"needs/town.csv": b"product,amount\n"}))
    with pytest.raises(EconomyError, match=r"has no economy\.toml"):
        economy_from_archive(zip_of({"products.csv": b"id\nbread\n"}))


def test_files_over_the_size_cap_are_refused_naming_the_cap(monkeypatch):
    members = demo_members()
    monkeypatch.setattr(archive, "MAX_BUNDLE_BYTES", sum(map(len, members.values())) - 1)
    with pytest.raises(EconomyError, match="more than .* bytes") as caught:
        economy_from_archive(zip_of(members))
    assert f"{archive.MAX_BUNDLE_BYTES:,}" in str(caught.value)


# -- work norms --------------------------------------------------------------------------


def test_a_norm_sets_the_techniques_labour_per_unit_of_its_product(demo):
    # The bicycle workshop makes 10 bicycles per unit of activity with 100 hours: 10 h each.
    norms = {"bicycle_workshop": 8.0, "bakery": 50.0}
    normed = with_norms(demo, norms)
    for technique_id, norm in norms.items():
        t = technique(demo, technique_id)
        per_unit = normed.labour[:, t].sum() / normed.technique_output[t]
        assert per_unit == pytest.approx(norm, rel=1e-15)
        # Every kind scaled alike: the mix of kinds stays.
        share = demo.labour[:, t] / demo.labour[:, t].sum()
        assert np.allclose(normed.labour[:, t] / normed.labour[:, t].sum(), share, rtol=1e-15)
    others = [i for i in range(demo.n_techniques) if demo.technique_ids[i] not in norms]
    assert np.array_equal(normed.labour[:, others], demo.labour[:, others])
    assert normed.inputs is demo.inputs
    assert not normed.labour.flags.writeable
    assert not demo.labour.flags.writeable
    assert normed != demo


def test_an_unknown_technique_or_a_bad_norm_is_refused_naming_it(demo):
    with pytest.raises(EconomyError, match="unknown technique 'bakry'") as caught:
        with_norms(demo, {"bakery": 50.0, "bakry": 40.0})
    assert caught.value.where.id == "bakry"
    for bad in (0, -1.0, float("nan"), float("inf"), "lots", True):
        with pytest.raises(EconomyError, match="not a number > 0"):
            with_norms(demo, {"bakery": bad})


def test_a_technique_without_labour_cannot_take_a_norm():
    economy = make_economy(
        products=["water", "bread"],
        techniques=["spring", "bakery"],
        technique_product=["water", "bread"],
        inputs=np.array([[0.0, 0.5], [0.0, 0.0]]),
        labour=np.array([0.0, 2.0]),
    )
    with pytest.raises(EconomyError, match="technique 'spring' uses no labour"):
        with_norms(economy, {"spring": 1.0})


# -- the published plan ------------------------------------------------------------------


def test_a_technique_is_split_by_capacity_and_its_hours_add_up(demo, demo_plan):
    bakery = technique(demo, "bakery")
    assert demo_plan.activity[bakery] > 0
    published = publish(
        demo_plan,
        demo,
        workplaces={"north-bakery": {"bakery": 300.0}, "south-bakery": {"bakery": 100}},
    )
    north, south = published["workplaces"]["north-bakery"], published["workplaces"]["south-bakery"]
    [north_run], [south_run] = north["techniques"], south["techniques"]
    assert north_run["technique"] == "bakery" and north_run["product"] == "bread"
    assert north_run["activity"] == pytest.approx(3 * south_run["activity"], rel=1e-11)
    total = north_run["activity"] + south_run["activity"]
    assert total == pytest.approx(demo_plan.activity[bakery], rel=1e-11)
    for k, kind in enumerate(demo.labour_ids):
        hours = north["hours"].get(kind, 0.0) + south["hours"].get(kind, 0.0)
        assert hours == pytest.approx(demo_plan.labour_by_technique[k, bakery], rel=1e-11)
    # Inputs: the bakery's coefficients times each workplace's activity.
    column = demo.inputs[:, [bakery]].toarray().ravel()
    expected = {
        demo.product_ids[i]: column[i] * north_run["activity"] for i in np.flatnonzero(column)
    }
    assert north["inputs"] == pytest.approx(expected, rel=1e-11)
    assert set(published["workplaces"]) == {"north-bakery", "south-bakery"}


def test_equal_shares_without_capacities_and_a_by_product_is_not_an_input(demo, demo_plan):
    sawmill = technique(demo, "sawmill")
    published = publish(
        demo_plan, demo, workplaces={"east": {"sawmill": None}, "west": {"sawmill": 500.0}}
    )
    east, west = published["workplaces"]["east"], published["workplaces"]["west"]
    assert east["techniques"][0]["activity"] == west["techniques"][0]["activity"]
    assert 2 * east["techniques"][0]["activity"] == pytest.approx(demo_plan.activity[sawmill])
    chips = demo.product_index("wood_chips")
    assert demo.inputs[[chips], [sawmill]][0] < 0  # the sawmill makes chips alongside timber
    assert "wood_chips" not in east["inputs"]
    assert east["resources"]["forest"] > 0


def test_a_claim_that_cannot_be_split_is_refused_naming_the_workplace(demo, demo_plan):
    with pytest.raises(PlanInputError, match="'mill' runs unknown technique 'sawmil'"):
        publish(demo_plan, demo, workplaces={"mill": {"sawmill": 1.0, "sawmil": 2.0}})
    with pytest.raises(PlanInputError, match="'mill' states capacity -1.0 for technique 'sawmill'"):
        publish(demo_plan, demo, workplaces={"mill": {"sawmill": -1.0}})


def test_the_published_plan_is_plain_json_with_the_plans_numbers(demo, demo_plan):
    published = publish(demo_plan, demo, workplaces={})
    assert json.loads(canonical_bytes(published)) == published
    assert published["status"] == "optimal"
    assert published["method"] == demo_plan.method
    assert published["total_labour"] == pytest.approx(demo_plan.total_labour, rel=1e-12)
    assert set(published["labour"]) == set(demo.labour_ids)
    used = demo_plan.activity > 0
    assert set(published["activity"]) == set(demo.technique_ids[used])
    assert published["activity"] == pytest.approx(
        dict(zip(demo.technique_ids[used], demo_plan.activity[used], strict=True)), rel=1e-11
    )
    bread = demo.product_index("bread")
    assert published["values"]["bread"] == pytest.approx(demo_plan.prices[bread], rel=1e-11)
    for value in published["activity"].values():
        assert float(f"{value:.12g}") == value  # 12 significant digits
    north = {row["product"]: row for row in published["consumption"]["north"]}
    assert north["bread"] == {"product": "bread", "priority": 2.0, "need": 200.0, "met": 200.0}
    assert published["shortfall"] == []
    assert published["workplaces"] == {}


def test_the_digest_is_the_same_for_two_solves_and_changes_with_a_need(demo, town_needs):
    workplaces = {"north-bakery": {"bakery": 3}, "south-bakery": {"bakery": 1}}
    first = publish(plan(demo, town_needs), demo, workplaces=workplaces)
    again = publish(plan(demo, town_needs), demo, workplaces=dict(reversed(workplaces.items())))
    assert plan_digest(first) == plan_digest(again)
    assert plan_digest(json.loads(json.dumps(first))) == plan_digest(first)

    frame = pd.read_csv(DEMO_BUNDLE / "needs" / "town.csv")
    frame.loc[(frame["product"] == "bread") & (frame["council"] == "north"), "amount"] += 1
    changed = publish(plan(demo, as_needs(demo, frame)), demo, workplaces=workplaces)
    assert plan_digest(changed) != plan_digest(first)


def test_a_shortfall_plan_keeps_its_shortfall_rows(demo, town_needs):
    short = plan(demo, town_needs, Limits(labour={"care": 900_000}))
    assert short.status == "shortfall"
    published = publish(short, demo, workplaces={"clinic": {"clinic": None}})
    assert published["status"] == "shortfall"
    assert len(published["shortfall"]) == len(short.shortfall) > 0
    for row, expected in zip(published["shortfall"], short.shortfall.itertuples(), strict=True):
        assert row["product"] == expected.product and row["council"] == expected.council
        assert row["binding"] == expected.binding
        assert row["short"] == pytest.approx(expected.short, rel=1e-11)
        assert row["met"] == pytest.approx(expected.met, rel=1e-11)
    met = {
        (council, row["product"]): row["met"]
        for council, rows in published["consumption"].items()
        for row in rows
    }
    first = published["shortfall"][0]
    assert met[(first["council"], first["product"])] == first["met"]


def test_the_inputs_digest_follows_the_inputs_not_their_order():
    a = inputs_digest(bundle="ab" * 32, needs=[["bread", 200.0, "north"]], method="auto")
    b = inputs_digest(method="auto", needs=[["bread", 200.0, "north"]], bundle="ab" * 32)
    assert a == b
    assert a != inputs_digest(bundle="ab" * 32, needs=[["bread", 201.0, "north"]], method="auto")
    with pytest.raises(ValueError):
        inputs_digest(limit=float("nan"))
    with pytest.raises(TypeError, match="set"):
        inputs_digest(needs={"bread"})


def test_publish_an_economy_without_resources():
    import numpy as np

    from councilplan.economy.synthetic import generate_economy
    from councilplan.planning import plan
    from councilplan.planning.published import publish

    economy = generate_economy(50)
    assert economy.n_resources == 0
    technique = str(economy.technique_ids[0])
    published = publish(
        plan(economy, np.ones(economy.n_products)), economy, workplaces={"1": {technique: None}}
    )
    assert published["resources"] == {} and published["workplaces"]["1"]["resources"] == {}
    assert published["workplaces"]["1"]["techniques"][0]["technique"] == technique
