"""The economy bundle: what is written is read back exactly, and bad bundles say where."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from councilplan.economy import (
    DEMO_BUNDLE,
    EconomyError,
    NotProductiveError,
    load_demo,
    make_economy,
    read_bundle,
    write_bundle,
)


def edit(path: Path, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` in the file; returns the data row (1-based) it is on."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n")  # the header is line 0


def error(bundle: Path) -> EconomyError:
    with pytest.raises(EconomyError) as caught:
        read_bundle(bundle)
    return caught.value


# -- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("table_format", ["auto", "csv", "parquet"])
def test_demo_round_trips_exactly(tmp_path, table_format):
    economy = load_demo()
    out = write_bundle(economy, tmp_path / "copy", table_format=table_format)
    suffix = ".parquet" if table_format == "parquet" else ".csv"
    assert sorted(p.suffix for p in out.iterdir() if p.name != "economy.toml") == [suffix] * 7
    assert read_bundle(out) == economy


def test_zip_round_trips_and_a_zipped_folder_reads(tmp_path):
    economy = load_demo()
    archive = write_bundle(economy, tmp_path / "town.zip")
    assert archive == tmp_path / "town.zip" and archive.is_file()
    assert read_bundle(archive) == economy
    # zip -r town.zip town/ : the bundle one folder down
    import zipfile

    with zipfile.ZipFile(tmp_path / "folder.zip", "w") as z:
        for file in sorted(DEMO_BUNDLE.rglob("*")):
            if file.is_file():
                z.write(file, Path("town") / file.relative_to(DEMO_BUNDLE))
    assert read_bundle(tmp_path / "folder.zip") == economy


def test_errors_in_a_zip_name_the_zip(tmp_path, town):
    edit(town / "inputs.csv", "bakery,grain,0.8", "bakery,grian,0.8")
    archive = tmp_path / "bad.zip"
    import zipfile

    with zipfile.ZipFile(archive, "w") as z:
        for file in town.iterdir():
            if file.is_file():
                z.write(file, file.name)
    e = error(archive)
    assert e.where.source == str(archive / "inputs.csv") and e.where.row == 9
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert "cannot read the zip file" in str(error(tmp_path / "junk.zip"))


def test_auto_format_writes_large_tables_as_parquet(tmp_path, monkeypatch):
    from councilplan.economy import bundle

    monkeypatch.setattr(bundle, "AUTO_PARQUET_ROWS", 50)  # the demo has more inputs than that
    out = write_bundle(load_demo(), tmp_path / "b")
    assert (out / "inputs.parquet").is_file() and (out / "products.csv").is_file()
    assert read_bundle(out) == load_demo()


def test_written_csv_is_plain_and_sorted(tmp_path):
    out = write_bundle(load_demo(), tmp_path / "copy")
    lines = (out / "inputs.csv").read_text().splitlines()
    assert lines[:3] == [
        "technique,product,quantity",
        "grain_conventional,fertiliser,0.05",
        "grain_conventional,electricity,0.05",
    ]
    assert (out / "techniques.csv").read_text().splitlines()[1] == "grain_conventional,grain,1,"
    assert (
        (out / "economy.toml")
        .read_text()
        .startswith('format = "councilplan-economy"\nversion = 1\nname = "demo"\n')
    )


ids = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8
).filter(lambda s: s == s.strip())
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
units = texts.filter(lambda s: s != "")  # an empty unit cell means the default unit
positive = st.floats(min_value=1e-300, max_value=1e300, allow_subnormal=False)
limits = st.one_of(st.just(np.inf), st.floats(min_value=0, max_value=1e300))


@st.composite
def economies(draw):
    n = draw(st.integers(1, 6))
    t = n + draw(st.integers(0, 3))
    k = draw(st.integers(1, 3))
    r = draw(st.integers(0, 2))
    all_ids = draw(st.lists(ids, min_size=n + t + k + r, max_size=n + t + k + r, unique=True))
    products, rest = all_ids[:n], all_ids[n:]
    techniques, rest = rest[:t], rest[t:]
    labour_kinds, resources = rest[:k], rest[k:]
    made = list(range(n)) + draw(st.lists(st.integers(0, n - 1), min_size=t - n, max_size=t - n))
    # Column sums below 1 (in absolute value) keep every choice of techniques productive.
    coefficient = st.one_of(st.just(0.0), st.floats(min_value=1e-12, max_value=1 / (n + 1)))
    inputs = np.array(draw(st.lists(coefficient, min_size=n * t, max_size=n * t))).reshape(n, t)
    byproducts = draw(st.lists(st.sampled_from(products), unique=True, max_size=2))
    for b in byproducts:
        inputs[products.index(b)] *= -1
    numbers = st.one_of(st.just(0.0), positive)
    return make_economy(
        products=products,
        product_names=draw(st.lists(texts, min_size=n, max_size=n)),
        product_units=draw(st.lists(units, min_size=n, max_size=n)),
        techniques=techniques,
        technique_product=made,
        # Outputs of at least 1 keep inputs per unit of output below 1 as well.
        technique_output=draw(st.lists(st.floats(1, 1e300), min_size=t, max_size=t)),
        capacity=draw(st.lists(limits, min_size=t, max_size=t)),
        inputs=inputs,
        labour=np.array(draw(st.lists(numbers, min_size=k * t, max_size=k * t))).reshape(k, t),
        labour_kinds=labour_kinds,
        labour_units=draw(st.lists(units, min_size=k, max_size=k)),
        labour_limits=draw(st.lists(limits, min_size=k, max_size=k)),
        resources=resources,
        resource_use=np.array(draw(st.lists(numbers, min_size=r * t, max_size=r * t))).reshape(
            r, t
        ),
        resource_limits=draw(st.lists(limits, min_size=r, max_size=r)),
        byproducts=byproducts,
        name=draw(texts),
        description=draw(texts),
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(economy=economies(), table_format=st.sampled_from(["csv", "parquet"]))
def test_any_economy_round_trips_exactly(tmp_path, economy, table_format):
    out = write_bundle(economy, tmp_path / "b", table_format=table_format)
    again = read_bundle(out)
    assert again == economy, differences(again, economy)


def differences(a, b) -> list[str]:
    """The fields in which two economies differ, for a readable failure."""
    out = []
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "inputs":
            x, y = x.toarray(), y.toarray()
        same = np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        if not same and not f.name.startswith("_"):
            out.append(f"{f.name}: {x!r} != {y!r}")
    return out


@pytest.mark.parametrize("text", ["two\nlines", "windows\r\nline end", 'quotes """ and \\'])
def test_manifest_text_round_trips(tmp_path, text):
    economy = make_economy(
        products=["p"], techniques=["t"], technique_product=[0], inputs=[[0.0]], labour=[1.0],
        name=text, description=text,
    )  # fmt: skip
    assert read_bundle(write_bundle(economy, tmp_path / "b")) == economy


def test_a_large_sparse_economy_round_trips(tmp_path):
    rng = np.random.default_rng(7)
    n = 3000
    inputs = sp.random_array((n, n), density=0.01, random_state=rng, format="csc") * 0.01
    economy = make_economy(
        products=[f"p{i}" for i in range(n)],
        techniques=[f"t{i}" for i in range(n)],
        technique_product=np.arange(n),
        inputs=inputs,
        labour=rng.random(n),
    )
    for table_format in ("csv", "parquet"):
        out = write_bundle(economy, tmp_path / table_format, table_format=table_format)
        assert read_bundle(out) == economy


# -- defaults and forms ------------------------------------------------------------------


def write_files(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


MINIMAL = {
    "economy.toml": 'format = "councilplan-economy"\nversion = 1\n',
    "products.csv": "id\ncorn\niron\n",
    "techniques.csv": "product,id\ncorn,farm\niron,mine\n",
    "inputs.csv": "technique,product,quantity\nfarm,iron,0.1\nmine,corn,0.2\n",
    "labour_kinds.csv": "id\nwork\n",
    "labour_use.csv": "quantity,technique,labour\n3,farm,work\n5,mine,work\n",
}


def test_minimal_bundle_takes_defaults(tmp_path):
    economy = read_bundle(write_files(tmp_path / "tiny", MINIMAL))
    assert economy.name == "tiny"
    assert list(economy.product_units) == ["unit", "unit"]
    assert list(economy.labour_units) == ["hours"]
    assert economy.labour_limits.tolist() == [np.inf]
    assert economy.capacity.tolist() == [np.inf, np.inf]
    assert economy.technique_output.tolist() == [1.0, 1.0]
    assert economy.n_resources == 0
    assert economy.inputs.toarray().tolist() == [[0, 0.2], [0.1, 0]]  # products x techniques
    assert economy.labour.tolist() == [[3, 5]]


def test_empty_optional_cells_take_defaults_and_zero_rows_mean_nothing(tmp_path):
    files = dict(MINIMAL)
    files["products.csv"] = "id,name,unit\ncorn,,\niron,Iron ore,tonne\n"
    files["techniques.csv"] = "id,product,output,capacity\nfarm,corn,,\nmine,iron,2,inf\n"
    files["inputs.csv"] += "farm,corn,0\n"
    economy = read_bundle(write_files(tmp_path / "b", files))
    assert list(economy.product_units) == ["unit", "tonne"]
    assert list(economy.product_names) == ["", "Iron ore"]
    assert economy.technique_output.tolist() == [1.0, 2.0]
    assert economy.capacity.tolist() == [np.inf, np.inf]
    assert economy.nnz == 2


def test_gzip_csv_byte_order_mark_and_quoted_text_are_read(tmp_path):
    import gzip

    folder = write_files(tmp_path / "b", {k: v for k, v in MINIMAL.items() if k != "inputs.csv"})
    (folder / "products.csv").write_bytes(
        '\ufeffid,name\ncorn,"Corn, ""sweet"""\niron,Iron\n'.encode()
    )
    with gzip.open(folder / "inputs.csv.gz", "wt") as f:
        f.write(MINIMAL["inputs.csv"])
    economy = read_bundle(folder)
    assert list(economy.product_names) == ['Corn, "sweet"', "Iron"]
    assert economy.nnz == 2


def test_parquet_tables_may_use_dictionary_ids_and_integer_numbers(tmp_path):
    folder = write_files(tmp_path / "b", {k: v for k, v in MINIMAL.items() if k != "inputs.csv"})
    pq.write_table(
        pa.table({
            "technique": pa.array(["farm", "mine"]).dictionary_encode(),
            "product": pa.array(["iron", "corn"]),
            "quantity": pa.array([0, 1], pa.int64()),
        }),
        folder / "inputs.parquet",
    )  # fmt: skip
    assert read_bundle(folder).inputs.toarray().tolist() == [[0, 1], [0, 0]]


def test_parquet_in_row_groups_reads_and_names_the_right_row(tmp_path):
    economy = load_demo()
    out = write_bundle(economy, tmp_path / "b", table_format="parquet")
    inputs = pq.read_table(out / "inputs.parquet")
    inputs = inputs.set_column(1, "product", inputs.column("product").dictionary_encode())
    pq.write_table(inputs, out / "inputs.parquet", row_group_size=10)  # six chunks
    assert read_bundle(out) == economy
    products = inputs.column("product").to_pylist()
    products[37] = "nope"
    inputs = inputs.set_column(1, "product", pa.array(products).dictionary_encode())
    pq.write_table(inputs, out / "inputs.parquet", row_group_size=10)
    e = error(out)
    assert (e.where.row, e.where.id) == (38, "nope")


def test_manifest_file_itself_may_be_named(town):
    assert read_bundle(town / "economy.toml") == load_demo()


# -- saving ------------------------------------------------------------------------------


def test_writing_over_a_bundle_replaces_its_tables_only(tmp_path):
    economy = load_demo()
    out = write_bundle(economy, tmp_path / "b")
    (out / "NOTES.md").write_text("mine")
    (out / "needs").mkdir()
    write_bundle(economy, out, table_format="parquet")
    names = sorted(p.name for p in out.iterdir())
    assert "NOTES.md" in names and "needs" in names  # not bundle files: left alone
    assert not [n for n in names if n.endswith(".csv")]  # old tables gone, not doubled
    assert read_bundle(out) == economy
    with pytest.raises(ValueError, match="table_format"):
        write_bundle(economy, tmp_path / "a", table_format="xlsx")


# -- errors a user would meet ------------------------------------------------------------


def test_not_a_bundle(tmp_path):
    e = error(tmp_path)
    assert str(e).startswith(f"{tmp_path}: not an economy bundle: the folder has no economy.toml")
    assert "no such folder or .zip file" in str(error(tmp_path / "nowhere"))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('format = "councilplan-economy"', 'format = "other"', "format is 'other'"),
        (
            "version = 1",
            "version = 2",
            "format version 2, but this councilplan reads versions up to 1",
        ),
        ("version = 1", 'version = "1"', "version is '1'; it must be a whole number"),
        ('name = "demo"', 'nmae = "demo"', "unknown key(s) 'nmae'"),
        ('name = "demo"', "name = 3", "name must be text"),
        ('byproducts = ["wood_chips"]', 'byproducts = "wood_chips"', "byproducts must be a list"),
        ('name = "demo"', 'name = "demo', "not valid TOML"),
    ],
)
def test_bad_manifest(town, old, new, expected):
    edit(town / "economy.toml", old, new)
    e = error(town)
    assert expected in str(e)
    assert e.where.source == str(town / "economy.toml")


def test_missing_table(town):
    (town / "labour_use.csv").unlink()
    assert "table 'labour_use' is missing: expected labour_use.csv" in str(error(town))


def test_table_given_twice(town):
    write_bundle(load_demo(), town / "pq", table_format="parquet")
    shutil.copy(town / "pq" / "inputs.parquet", town)
    assert "table 'inputs' is given twice (inputs.csv and inputs.parquet)" in str(error(town))


def test_misspelt_table(town):
    (town / "resource_use.csv").rename(town / "resources_use.csv")
    assert "unknown table 'resources_use.csv'" in str(error(town))


def test_other_files_and_folders_are_ignored(town):
    (town / "notes.txt").write_text("ours")
    assert (town / "needs" / "town.csv").is_file()  # a needs file beside the bundle
    assert read_bundle(town) == load_demo()


def test_misspelt_column(town):
    edit(town / "techniques.csv", "id,product,output,capacity", "id,product,output,capacty")
    e = error(town)
    assert "unknown column(s) 'capacty'" in str(e)
    assert "must name: id, product (optional: output, capacity)" in str(e)
    assert e.where.source == str(town / "techniques.csv")


def test_missing_column(town):
    edit(town / "inputs.csv", "technique,product,quantity", "technique,product,amount")
    assert "missing column(s) 'quantity'" in str(error(town))


def test_unknown_id_names_its_row(town):
    edit(town / "inputs.csv", "bakery,grain,0.8", "bakery,grian,0.8")
    e = error(town)
    assert e.where.row == 9 and e.where.field == "product" and e.where.id == "grian"
    assert str(e) == (
        f"{town / 'inputs.csv'}, row 9, id 'grian', field 'product': "
        "unknown product 'grian': it is not in the products table"
    )


def test_id_with_spaces_is_refused_saying_so(town):
    edit(town / "labour_use.csv", "bakery,general,60", "bakery ,general,60")
    assert "technique 'bakery ' has whitespace around it; ids are compared exactly" in str(
        error(town)
    )


def test_not_a_number_names_its_row(town):
    edit(town / "techniques.csv", "bakery,bread,1,800", "bakery,bread,1,lots")
    e = error(town)
    assert str(e) == (
        f"{town / 'techniques.csv'}, row 4, field 'capacity': "
        "'lots' in column 'capacity' is not a number"
    )


def test_not_a_number_is_found_in_a_long_table(tmp_path):
    files = dict(MINIMAL)
    files["techniques.csv"] += "".join(f"corn,t{i}\n" for i in range(20000))
    quantities = ["1"] * 20000
    quantities[12345] = "1.2.3"
    files["labour_use.csv"] = "technique,labour,quantity\n" + "".join(
        f"t{i},work,{q}\n" for i, q in enumerate(quantities)
    )
    e = error(write_files(tmp_path / "b", files))
    assert (e.where.row, e.where.field) == (12346, "quantity")
    assert "'1.2.3' in column 'quantity' is not a number" in str(e)


def test_empty_required_cell(town):
    edit(town / "inputs.csv", "bakery,grain,0.8", "bakery,grain,")
    e = error(town)
    assert (e.where.row, e.where.field) == (9, "quantity")
    assert "column 'quantity' is empty in row 9" in str(e)
    edit(town / "inputs.csv", "bakery,grain,", ",grain,0.8")
    assert "column 'technique' is empty in row 9" in str(error(town))


def test_repeated_coefficient_names_both_rows(town):
    data_rows = len((town / "inputs.csv").read_text().splitlines()) - 1
    with (town / "inputs.csv").open("a") as f:
        f.write("bakery,grain,0.1\n")
    e = error(town)
    assert "technique 'bakery' and product 'grain' are given again (first in row 9)" in str(e)
    assert e.where.row == data_rows + 1


def test_duplicate_id_is_reported_before_what_refers_to_it(town):
    edit(town / "products.csv", "bread,Bread,tonne", "grain,Bread,tonne")
    e = error(town)
    assert "duplicate product id 'grain' (first at row 1)" in str(e)
    assert (e.where.source, e.where.row) == (str(town / "products.csv"), 3)


def test_negative_input_must_be_a_declared_byproduct(town):
    edit(town / "economy.toml", 'byproducts = ["wood_chips"]', "")
    e = error(town)
    assert "technique 'sawmill' has a negative input" in str(e)
    assert "declare 'wood_chips' a by-product" in str(e)


def test_unproductive_economy_is_named_and_can_still_be_read(town):
    edit(town / "inputs.csv", "machine_works,machinery,0.02", "machine_works,machinery,1.5")
    with pytest.raises(NotProductiveError) as caught:
        read_bundle(town)
    assert "machinery" in caught.value.cycle and caught.value.spectral_radius >= 1
    assert read_bundle(town, check_productive=False).n_products == load_demo().n_products


def test_use_of_an_unlisted_resource(town):
    (town / "resources.csv").unlink()
    e = error(town)
    assert "uses resource 'farmland', but the bundle lists no resources" in str(e)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"id,name,unit\ngrain,Gr\xe4in,tonne\n", "not UTF-8 text"),
        (b"id,name,unit\ngrain,Grain,tonne,extra\n", "the row has 4 values, but the header"),
    ],
)
def test_unreadable_csv(town, content, expected):
    (town / "products.csv").write_bytes(content)
    e = error(town)
    assert expected in str(e)
    assert e.where.source == str(town / "products.csv")


def test_unreadable_parquet(town):
    (town / "inputs.csv").unlink()
    (town / "inputs.parquet").write_bytes(b"not parquet")
    assert "cannot read the Parquet table" in str(error(town))
