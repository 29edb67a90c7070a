"""Bad input gets a clear error saying what was wrong and where (file, row, id, field).

Issue 11's rough edges: numbers shown as NumPy writes them, NaN/inf/negative numbers
reported without their file and row, a products table with no rows, ids with whitespace
around them, labour values of an economy that cannot produce a surplus, and needs files
that are empty, repeat a need or end mid-row. Each is checked from the library and, where
the command line reaches it, from ``councilplan values`` or ``councilplan plan``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from councilplan.cli import app
from councilplan.economy import (
    DEMO_BUNDLE,
    EconomyError,
    NotProductiveError,
    make_economy,
    read_bundle,
)
from councilplan.planning import labour_values

runner = CliRunner()


@pytest.fixture
def town(tmp_path: Path) -> Path:
    """A writable copy of the demo bundle."""
    return Path(shutil.copytree(DEMO_BUNDLE, tmp_path / "town"))


def edit(path: Path, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` in the file; returns the data row (1-based) it is on."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n")  # the header is line 0


def bundle_error(bundle: Path) -> EconomyError:
    with pytest.raises(EconomyError) as caught:
        read_bundle(bundle)
    assert "np." not in str(caught.value)
    return caught.value


def one_line(output: str) -> str:
    """The CLI's output with the console's line wrapping undone."""
    return " ".join(output.split())


# -- 1. numbers are shown as numbers, not as NumPy writes them -------------------------------


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"consumer_income": [-1.0]}, "income is -1.0"),
        ({"utility_exponents": [[-0.5]]}, "exponent 1 is -0.5"),
    ],
)
def test_experiment_errors_show_plain_numbers(change, shown):
    from councilplan.economy.pequod import make_experiment

    arguments = dict(
        name="tiny", goods_per_category=1, consumer_income=[1.0], utility_exponents=[[0.5]],
        public_good_exponents=[[0.5]], industry=[0], product=[1], input_indptr=[0, 1],
        input_goods=[4], input_exponents=[0.5], productivity=[1.0], effort_exponent=[0.5],
        disutility_exponent=[2.0], disutility_scale=[1.0],
    )  # fmt: skip
    arguments.update(change)
    with pytest.raises(EconomyError) as caught:
        make_experiment(**arguments)
    assert shown in str(caught.value) and "np." not in str(caught.value)


# -- 2. NaN, inf and negative numbers are reported with their file, row, id and field -----

NUMBERS = [
    # file, old text, new text, id, field, what the message says
    ("inputs.csv", "bakery,grain,0.8", "bakery,grain,nan", "bakery", "quantity",
     "input of 'grain' to technique 'bakery' is nan; it must be a finite number"),
    ("inputs.csv", "bakery,grain,0.8", "bakery,grain,inf", "bakery", "quantity",
     "input of 'grain' to technique 'bakery' is inf; it must be a finite number"),
    ("inputs.csv", "bakery,grain,0.8", "bakery,grain,-0.8", "bakery", "quantity",
     "technique 'bakery' has a negative input -0.8 of 'grain'; declare 'grain' a by-product"),
    ("labour_use.csv", "bakery,general,60", "bakery,general,-60", "bakery", "quantity",
     "labour of 'general' by technique 'bakery' is -60.0; it must be a finite number >= 0"),
    ("labour_use.csv", "bakery,general,60", "bakery,general,NaN", "bakery", "quantity",
     "labour of 'general' by technique 'bakery' is nan; it must be a finite number >= 0"),
    ("resource_use.csv", "grain_organic,farmland,0.28", "grain_organic,farmland,-inf",
     "grain_organic", "quantity",
     "resource use of 'farmland' by technique 'grain_organic' is -inf; it must be a finite "
     "number >= 0"),
    ("techniques.csv", "bakery,bread,1,800", "bakery,bread,nan,800", "bakery", "output",
     "technique 'bakery' has output nan; it must be a finite number"),
    ("techniques.csv", "bakery,bread,1,800", "bakery,bread,inf,800", "bakery", "output",
     "technique 'bakery' has output inf; it must be a finite number"),
    ("techniques.csv", "bakery,bread,1,800", "bakery,bread,-1,800", "bakery", "output",
     "technique 'bakery' has output -1.0; a technique must make a positive quantity"),
    ("techniques.csv", "bakery,bread,1,800", "bakery,bread,1,-800", "bakery", "capacity",
     "capacity of technique 'bakery' is -800.0; a limit must be >= 0 (or empty for none)"),
    ("techniques.csv", "bakery,bread,1,800", "bakery,bread,1,nan", "bakery", "capacity",
     "capacity of technique 'bakery' is nan; a limit must be >= 0 (or empty for none)"),
    ("labour_kinds.csv", "skilled,Skilled trades and engineering,hours,380000",
     "skilled,Skilled trades and engineering,hours,-inf", "skilled", "limit",
     "limit of labour kind 'skilled' is -inf; a limit must be >= 0 (or empty for none)"),
    ("resources.csv", "co2,Carbon dioxide emissions,tonne CO2,25000",
     "co2,Carbon dioxide emissions,tonne CO2,-1", "co2", "limit",
     "limit of resource 'co2' is -1.0; a limit must be >= 0 (or empty for none)"),
]  # fmt: skip


@pytest.mark.parametrize(("file", "old", "new", "id", "field", "message"), NUMBERS)
def test_bad_numbers_name_their_file_row_id_and_field(town, file, old, new, id, field, message):
    row = edit(town / file, old, new)
    e = bundle_error(town)
    assert e.message.startswith(message)
    assert e.where.source == str(town / file)
    assert (e.where.row, e.where.id, e.where.field) == (row, id, field)


def test_a_by_product_named_in_the_manifest_must_be_a_product(town):
    edit(town / "economy.toml", 'byproducts = ["wood_chips"]', 'byproducts = ["wood_chip"]')
    e = bundle_error(town)
    assert e.where.source == str(town / "economy.toml") and e.where.field == "byproducts"
    assert "by-product 'wood_chip' is not in the products table" in str(e)


def test_a_row_with_too_few_values_is_named(town):
    row = edit(town / "inputs.csv", "bakery,grain,0.8", "bakery,grain")
    e = bundle_error(town)
    assert (e.where.source, e.where.row) == (str(town / "inputs.csv"), row)
    assert "the row has 2 values, but the header names 3 columns" in str(e)


# -- 3. a table of things with no rows says so -------------------------------------------


@pytest.mark.parametrize(
    ("table", "header", "message"),
    [
        ("products", "id,name,unit", "an economy needs at least one product"),
        (
            "techniques",
            "id,product,output,capacity",
            "every product needs a technique that makes it",
        ),
        ("labour_kinds", "id,name,unit,limit", "an economy needs at least one labour kind"),
    ],
)
def test_a_table_with_only_a_header_says_so(town, table, header, message):
    (town / f"{table}.csv").write_text(header + "\n")
    e = bundle_error(town)
    assert e.where.source == str(town / f"{table}.csv")
    assert e.message == f"the table has no rows, only a header; {message}"


# -- 4. ids with whitespace around them are refused, saying so ---------------------------


@pytest.mark.parametrize(
    ("file", "old", "new", "field", "message"),
    [
        ("products.csv", "grain,Grain", " grain,Grain", "id",
         "product id ' grain' has whitespace around it; ids are compared exactly, "
         "so write 'grain'"),
        ("labour_kinds.csv", "general,General", "general\t,General", "id",
         "labour kind id 'general\\t' has whitespace around it"),
        ("inputs.csv", "bakery,grain,0.8", "bakery, grain,0.8", "product",
         "product ' grain' has whitespace around it; ids are compared exactly, so write 'grain'"),
        ("inputs.csv", "bakery,grain,0.8", 'bakery," grain",0.8', "product",
         "product ' grain' has whitespace around it"),
        ("techniques.csv", "bakery,bread,1,800", "bakery,bread ,1,800", "product",
         "product 'bread ' has whitespace around it"),
        ("labour_use.csv", "bakery,general,60", "bakery ,general,60", "technique",
         "technique 'bakery ' has whitespace around it"),
    ],
)  # fmt: skip
def test_an_id_with_whitespace_around_it_is_refused(town, file, old, new, field, message):
    row = edit(town / file, old, new)
    e = bundle_error(town)
    assert e.message.startswith(message), e.message
    assert "unknown" not in e.message
    assert (e.where.source, e.where.row, e.where.field) == (str(town / file), row, field)


def test_an_unknown_id_with_whitespace_is_still_unknown(town):
    edit(town / "inputs.csv", "bakery,grain,0.8", "bakery, grian,0.8")
    assert "unknown product ' grian' (it also has whitespace around it)" in str(bundle_error(town))


# -- 5. labour values of an economy that cannot produce a surplus ------------------------


def unproductive():
    return make_economy(
        products=["a", "b"], techniques=["ta", "tb"], technique_product=[0, 1],
        inputs=[[0.5, 0.9], [0.9, 0.1]], labour=[1.0, 1.0], check_productive=False,
    )  # fmt: skip


@pytest.mark.parametrize("method", ["direct", "iterative"])
def test_values_of_an_unproductive_economy_are_refused(method):
    with pytest.raises(NotProductiveError) as caught:
        labour_values(unproductive(), method=method)
    assert "cannot produce a net surplus" in str(caught.value)
    assert caught.value.cycle == ["a", "b"]


def test_values_of_a_singular_economy_are_refused():
    singular = make_economy(
        products=["a", "b"], techniques=["ta", "tb"], technique_product=[0, 1],
        inputs=[[0.5, 0.5], [0.5, 0.5]], labour=[1.0, 1.0], check_productive=False,
    )  # fmt: skip
    with pytest.raises(NotProductiveError, match="'a', 'b'"):
        labour_values(singular)


def test_values_of_an_unproductive_bundle_are_refused(town):
    edit(town / "inputs.csv", "machine_works,machinery,0.02", "machine_works,machinery,1.5")
    economy = read_bundle(town, check_productive=False)
    with pytest.raises(NotProductiveError) as caught:
        labour_values(economy)
    assert "machinery" in caught.value.cycle


def two_ways_to_make_a():
    """Technique ta_bad makes a with the least direct labour but uses 1.5 a per a."""
    return make_economy(
        products=["a", "b"], techniques=["ta_bad", "ta", "tb"], technique_product=[0, 0, 1],
        inputs=[[1.5, 0.1, 0.2], [0.0, 0.1, 0.1]], labour=[1.0, 2.0, 1.0],
    )  # fmt: skip


def test_values_choose_productive_techniques_even_if_the_least_direct_labour_is_not():
    values = labour_values(two_ways_to_make_a())
    assert values.choice.tolist() == [1, 2]
    assert values.values.tolist() == pytest.approx([19 / 7.9, 9 * 19 / 7.9 - 20])


def test_values_of_an_unproductive_choice_of_techniques_are_refused():
    with pytest.raises(NotProductiveError, match="'a'"):
        labour_values(two_ways_to_make_a(), choice=[0, 2])


def test_negative_values_from_by_products_are_still_given():
    # Making a yields b as a by-product; b takes 10 hours to make, so a saves labour.
    economy = make_economy(
        products=["a", "b"], techniques=["ta", "tb"], technique_product=[0, 1],
        inputs=[[0.0, 0.0], [-0.5, 0.0]], labour=[1.0, 10.0], byproducts=["b"],
    )  # fmt: skip
    assert labour_values(economy).values.tolist() == pytest.approx([-4.0, 10.0])


# -- the command line: exit 2, the message on one line, nothing written ------------------


def test_values_command_names_a_products_table_with_no_rows(town, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (town / "products.csv").write_text("id,name,unit\n")
    result = runner.invoke(app, ["values", "town", "--out", "values.csv"])
    assert result.exit_code == 2
    expected = "town/products.csv: the table has no rows, only a header; an economy needs"
    assert f"error: {expected} at least one product" in one_line(result.output)
    assert "Traceback" not in result.output and not (tmp_path / "values.csv").exists()


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("labour_use.csv", "bakery,general,60", "bakery,general,nan",
         "town/labour_use.csv, row {row}, id 'bakery', field 'quantity': labour of 'general' "
         "by technique 'bakery' is nan; it must be a finite number >= 0"),
        ("inputs.csv", "bakery,grain,0.8", "bakery, grain,0.8",
         "town/inputs.csv, row {row}, id ' grain', field 'product': product ' grain' has "
         "whitespace around it; ids are compared exactly, so write 'grain'"),
    ],
)  # fmt: skip
def test_values_command_names_the_file_row_and_field(
    town, tmp_path, monkeypatch, file, old, new, message
):
    monkeypatch.chdir(tmp_path)
    row = edit(town / file, old, new)
    result = runner.invoke(app, ["values", "town", "--out", "values.csv"])
    assert result.exit_code == 2
    assert f"error: {message.format(row=row)}" in one_line(result.output)
    assert not (tmp_path / "values.csv").exists()
