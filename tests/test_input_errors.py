"""Bad input gets a clear error saying what was wrong and where (file, row, id, field).

Issue 11's rough edges: numbers shown as NumPy writes them, NaN/inf/negative numbers
reported without their file and row, a products table with no rows, ids with whitespace
around them, labour values of an economy that cannot produce a surplus, and needs files
that are empty, repeat a need or end mid-row. Each is checked from the library and, where
the command line reaches it, from ``councilplan values`` or ``councilplan plan``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from councilplan.cli import app
from councilplan.economy import (
    DEMO_BUNDLE,
    EconomyError,
    NotProductiveError,
    load_demo,
    make_economy,
    read_bundle,
)
from councilplan.planning import Limits, PlanInputError, labour_values, read_needs
from councilplan.planning.needs import as_needs, resolve_limits
from test_bundle import edit

runner = CliRunner()


def bundle_error(bundle: Path) -> EconomyError:
    with pytest.raises(EconomyError) as caught:
        read_bundle(bundle)
    assert "np." not in str(caught.value)
    return caught.value


def needs_error(path: Path, economy=None) -> PlanInputError:
    with pytest.raises(PlanInputError) as caught:
        read_needs(path, economy or load_demo())
    assert "np." not in str(caught.value)
    return caught.value


def one_line(output: str) -> str:
    """The CLI's output with the console's line wrapping undone."""
    return " ".join(output.split())


# -- 1. numbers are shown as numbers, not as NumPy writes them -------------------------------


def test_a_bad_priority_is_shown_as_a_plain_number(tmp_path):
    path = tmp_path / "needs.csv"
    path.write_text("product,amount,priority\nbread,4,-1\n")
    e = needs_error(path)
    assert "priority -1.0 is not positive" in str(e)
    assert (e.where.row, e.where.id, e.where.field) == (1, "bread", "priority")


@pytest.mark.parametrize(
    ("needs", "shown"),
    [
        (np.array([np.nan] + [1.0] * 17), "amount nan is not a finite number"),
        (pd.Series({"bread": np.inf}), "amount inf is not a finite number"),
        (pd.DataFrame({"product": ["bread"], "amount": [np.float32(-np.inf)]}), "amount -inf"),
        (pd.DataFrame({"product": ["bread"], "amount": [1.0], "priority": [np.int64(0)]}),
         "priority 0.0 is not positive"),
    ],
)  # fmt: skip
def test_needs_from_arrays_and_frames_show_plain_numbers(needs, shown):
    economy = load_demo()
    if isinstance(needs, np.ndarray):
        needs = np.resize(needs, economy.n_products)
    with pytest.raises(PlanInputError) as caught:
        as_needs(economy, needs)
    assert shown in str(caught.value) and "np." not in str(caught.value)


def test_a_bad_limit_is_shown_as_a_plain_number():
    limits = Limits(labour={np.str_("general"): np.float64(-5.0)})
    with pytest.raises(PlanInputError) as caught:
        resolve_limits(load_demo(), limits, source="limits.toml")
    assert "limit -5.0 of labour kind 'general'" in str(caught.value)
    assert "np." not in str(caught.value)


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


@pytest.mark.parametrize(
    ("needs", "row", "id", "field", "message"),
    [
        ("product,amount\nbread,4\nbread,nan\n", 2, "bread", "amount",
         "amount 'nan' is not a finite number"),
        ("product,amount,priority\nbread,4,inf\n", 1, "bread", "priority",
         "priority 'inf' is not a finite number"),
        ("product,amount,priority\nbread,4,1\nmilk,2,-2\n", 2, "milk", "priority",
         "priority -2.0 is not positive"),
    ],
)  # fmt: skip
def test_bad_numbers_in_needs_name_their_file_row_id_and_field(
    tmp_path, needs, row, id, field, message
):
    path = tmp_path / "needs.csv"
    path.write_text(needs)
    e = needs_error(path)
    assert message in str(e)
    assert (e.where.source, e.where.row, e.where.id, e.where.field) == (str(path), row, id, field)


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


def test_a_needed_product_with_whitespace_around_it_is_refused(tmp_path):
    path = tmp_path / "needs.csv"
    path.write_text("product,amount\nmilk,2\n bread,4\n")
    e = needs_error(path)
    assert "product ' bread' has whitespace around it; ids are compared exactly" in str(e)
    assert (e.where.row, e.where.id, e.where.field) == (2, " bread", "product")


def test_spaces_around_numbers_and_councils_in_needs_are_fine(tmp_path):
    path = tmp_path / "needs.csv"
    path.write_text("product, amount, council\nbread, 4, north\nmilk,2 ,south\n")
    needs = read_needs(path, load_demo())
    assert sorted(needs.council) == ["north", "south"]
    assert sorted(needs.amount) == [2.0, 4.0]


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


# -- 6. needs files: no rows, a need stated twice, a row cut short -------------------------


@pytest.mark.parametrize("text", ["product,amount\n", "product,amount", "product,amount\n\n"])
def test_a_needs_file_with_no_rows_is_refused(tmp_path, text):
    path = tmp_path / "needs.csv"
    path.write_text(text)
    e = needs_error(path)
    assert e.where.source == str(path)
    assert "the needs file has no rows, only a header" in str(e)


@pytest.mark.parametrize(
    ("text", "first", "again", "message"),
    [
        ("product,amount\nbread,4\nmilk,1\nbread,5\n", 1, 3,
         "product 'bread' is stated again (first in row 1)"),
        ("product,amount,council\nbread,4,north\nbread,4,south\nbread,5,north\n", 1, 3,
         "product 'bread' is stated again for council 'north' (first in row 1)"),
        ("product,amount,council,priority\nbread,4,north,2\nbread,5,north,\nbread,1,north,1\n",
         2, 3, "product 'bread' is stated again for council 'north' at priority 1.0 "
         "(first in row 2)"),
    ],
)  # fmt: skip
def test_a_need_stated_twice_is_refused_naming_both_rows(tmp_path, text, first, again, message):
    path = tmp_path / "needs.csv"
    path.write_text(text)
    e = needs_error(path)
    assert message in str(e)
    assert (e.where.row, e.where.id, e.where.field) == (again, "bread", "product")


def test_needs_of_one_product_at_two_priorities_are_two_needs(tmp_path):
    path = tmp_path / "needs.csv"
    path.write_text("product,amount,council,priority\nbread,4,north,3\nbread,2,north,1\n")
    needs = read_needs(path, load_demo())
    assert sorted(needs.priority) == [1.0, 3.0] and needs.total.sum() == 6.0


def test_a_frame_of_needs_stating_one_twice_is_refused():
    frame = pd.DataFrame({"product": ["bread", "milk", "bread"], "amount": [1.0, 2.0, 3.0]})
    with pytest.raises(PlanInputError, match=r"stated again \(first in row 1\)") as caught:
        as_needs(load_demo(), frame)
    assert caught.value.where.row == 3


@pytest.mark.parametrize(
    ("text", "row", "field", "message"),
    [
        ("product,amount\nmilk,2\nbread,", 2, "amount", "amount is empty; give a number"),
        ("product,amount\nmilk,2\nbread,\n", 2, "amount", "amount is empty; give a number"),
        ("product,amount\nmilk,2\nbread,1e", 2, "amount", "amount '1e' is not a finite number"),
        ("product,amount\nmilk,2\nbread,1.", 2, None,
         "the last row does not end with a line break: the file may have been cut off "
         "mid-row (the row reads 'bread,1.')"),
        ("product,amount\nmilk,2\nbread,12", 2, None, "does not end with a line break"),
        ("product,amount\nmilk,2\nbread\n", 2, None,
         "the row has 1 value, but the header names 2 columns (product, amount)"),
        ("product,amount,council\nbread,4\n", 1, None,
         "the row has 2 values, but the header names 3 columns"),
        ("product,amount\nbread,4,5\n", 1, None,
         "the row has 3 values, but the header names 2 columns"),
        ("product,amount\nmilk,2\n,5\n", 2, "product", "product is empty; every row needs one"),
    ],
)  # fmt: skip
def test_a_row_cut_short_is_refused(tmp_path, text, row, field, message):
    path = tmp_path / "needs.csv"
    path.write_text(text)
    e = needs_error(path)
    assert message in str(e), str(e)
    assert (e.where.source, e.where.row, e.where.field) == (str(path), row, field)


def test_well_formed_needs_files_still_read(tmp_path):
    path = tmp_path / "needs.csv"
    path.write_bytes(b"\xef\xbb\xbfProduct,Amount\r\nbread,4\r\n\r\nmilk,2.5\r\n")
    needs = read_needs(path, load_demo())
    assert needs.total.sum() == 6.5
    demo = read_needs(DEMO_BUNDLE / "needs" / "town.csv", load_demo())
    assert demo.product.size == len((DEMO_BUNDLE / "needs" / "town.csv").read_text().split()) - 1


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("product,amount\n", "needs.csv: the needs file has no rows, only a header"),
        ("product,amount\nbread,4\nbread,5\n",
         "needs.csv, row 2, id 'bread', field 'product': product 'bread' is stated again "
         "(first in row 1)"),
        ("product,amount\nmilk,2\nbread,1.",
         "needs.csv, row 2: the last row does not end with a line break"),
        ("product,amount,priority\nbread,4,-1\n",
         "needs.csv, row 1, id 'bread', field 'priority': priority -1.0 is not positive"),
        ("product,amount\n bread,4\n",
         "needs.csv, row 1, id ' bread', field 'product': product ' bread' has whitespace "
         "around it"),
    ],
)  # fmt: skip
def test_plan_command_refuses_bad_needs(town, tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "needs.csv").write_text(text)
    result = runner.invoke(app, ["plan", "town", "--needs", "needs.csv", "--out", "plan"])
    assert result.exit_code == 2
    assert f"error: {message}" in one_line(result.output)
    assert "Traceback" not in result.output and not (tmp_path / "plan").exists()
