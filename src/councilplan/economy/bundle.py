"""The economy bundle: an :class:`Economy` on disk, as a folder (or .zip) of small tables.

A bundle holds a manifest, ``economy.toml``, and one table per kind of thing: products,
techniques, labour kinds and resources (one row each), and the coefficients in long form
(one row per non-zero: technique, product, quantity), so it stays sparse at 10^7
coefficients and can be edited in a spreadsheet at 20. Tables are CSV or Parquet.
``docs/bundle-format.md`` is the format's specification; the shipped demo economy is a
bundle in ``economy/demo/``.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
import tomli_w

import councilplan.economy.tables as tables
from councilplan.economy.errors import EconomyError
from councilplan.economy.model import Economy, checked_ids, make_economy
from councilplan.economy.tables import ID, NUMBER, TEXT, Column, TableSpec
from councilplan.errors import Where

FORMAT = "councilplan-economy"
VERSION = 1
MANIFEST = "economy.toml"
#: With ``table_format="auto"``, a table of more rows than this is written as Parquet.
AUTO_PARQUET_ROWS = 1_000_000
# The shipped demo economy, a bundle like any other (see its README.md).
DEMO_BUNDLE = Path(__file__).resolve().parent / "demo"

_INF = float("inf")
PRODUCTS = TableSpec("products", (
    Column("id", ID, required=True),
    Column("name", TEXT, default=""),
    Column("unit", TEXT, default="unit"),
))  # fmt: skip
TECHNIQUES = TableSpec("techniques", (
    Column("id", ID, required=True),
    Column("product", ID, required=True),
    Column("output", NUMBER, default=1.0),
    Column("capacity", NUMBER, default=_INF),
))  # fmt: skip
LABOUR_KINDS = TableSpec("labour_kinds", (
    Column("id", ID, required=True),
    Column("name", TEXT, default=""),
    Column("unit", TEXT, default="hours"),
    Column("limit", NUMBER, default=_INF),
))  # fmt: skip
RESOURCES = TableSpec("resources", (
    Column("id", ID, required=True),
    Column("name", TEXT, default=""),
    Column("unit", TEXT, default="unit"),
    Column("limit", NUMBER, default=_INF),
), required=False)  # fmt: skip


def _uses(name: str, key: str, required: bool = True) -> TableSpec:
    columns = (
        Column("technique", ID, required=True),
        Column(key, ID, required=True),
        Column("quantity", NUMBER, required=True),
    )
    return TableSpec(name, columns, required=required)


INPUTS = _uses("inputs", "product")
LABOUR_USE = _uses("labour_use", "labour")
RESOURCE_USE = _uses("resource_use", "resource", required=False)
TABLES = (PRODUCTS, TECHNIQUES, INPUTS, LABOUR_KINDS, LABOUR_USE, RESOURCES, RESOURCE_USE)
# The table that lists the ids a column refers to.
_LISTED_IN = {
    "product": PRODUCTS.name,
    "technique": TECHNIQUES.name,
    "labour": LABOUR_KINDS.name,
    "resource": RESOURCES.name,
}
_MANIFEST_KEYS = {"format", "version", "name", "description", "byproducts"}


# -- reading -----------------------------------------------------------------------------


def read_bundle(path: str | os.PathLike, *, check_productive: bool = True) -> Economy:
    """Read the economy bundle in folder (or .zip file) ``path``.

    Raises :class:`EconomyError` naming the file, row, id and column of the first problem.
    """
    path = Path(path)
    if path.suffix.lower() == ".zip" and path.is_file():
        with tempfile.TemporaryDirectory(prefix="councilplan-bundle-") as scratch:
            folder = _unzip(path, Path(scratch))
            return _read_folder(folder, path, check_productive)
    if path.is_file() and path.name == MANIFEST:
        path = path.parent
    if not path.is_dir():
        raise EconomyError(
            "no such folder or .zip file: there is no economy bundle to read", Where(str(path))
        )
    return _read_folder(path, path, check_productive)


def load_demo() -> Economy:
    """The shipped demo economy: a town's year of production (see demo/README.md)."""
    return read_bundle(DEMO_BUNDLE)


def _read_folder(folder: Path, shown: Path, check_productive: bool) -> Economy:
    """Read the bundle in ``folder``; errors name files as if in ``shown`` (a folder or zip)."""
    manifest = _read_manifest(folder, shown)
    _check_no_stray_tables(folder, shown)

    def read(spec: TableSpec) -> tables.Table | None:
        return tables.read(folder, spec, shown)

    products, techniques = read(PRODUCTS), read(TECHNIQUES)
    labour_kinds, resources = read(LABOUR_KINDS), read(RESOURCES)
    # An empty table of things is named here, before another table's ids look unknown.
    _has_rows(products, "an economy needs at least one product")
    _has_rows(techniques, "every product needs a technique that makes it")
    _has_rows(labour_kinds, "an economy needs at least one labour kind")
    product_ids = _listed_ids(products, "product")
    technique_ids = _listed_ids(techniques, "technique")
    labour_ids = _listed_ids(labour_kinds, "labour kind")
    resource_ids = _listed_ids(resources, "resource") if resources else np.empty(0, object)
    n, t = len(product_ids), len(technique_ids)
    byproducts = _byproducts(manifest, product_ids, shown)

    # Numbers are checked here, not only by make_economy, so that an error names the
    # file and row of the number (make_economy knows only positions in its arrays).
    made = _positions(techniques, "product", product_ids)
    output = _checked(techniques, "output", technique_ids)
    capacity = _checked(techniques, "capacity", technique_ids)
    labour_limits = _checked(labour_kinds, "limit", labour_ids)
    resource_limits = _checked(resources, "limit", resource_ids) if resources else None
    may_be_negative = _marked(product_ids, byproducts)
    rows, cols, values = _coefficients(read(INPUTS), product_ids, technique_ids, may_be_negative)
    inputs = sp.coo_array((values, (rows, cols)), shape=(n, t))
    labour = _dense(read(LABOUR_USE), labour_ids, technique_ids)
    resource_use = _dense(read(RESOURCE_USE), resource_ids, technique_ids)

    return make_economy(
        products=product_ids,
        product_names=products.texts("name"),
        product_units=products.texts("unit"),
        techniques=technique_ids,
        technique_product=made,
        technique_output=output,
        capacity=capacity,
        inputs=inputs,
        labour=labour,
        labour_kinds=labour_ids,
        labour_names=labour_kinds.texts("name"),
        labour_units=labour_kinds.texts("unit"),
        labour_limits=labour_limits,
        resource_use=resource_use,
        resources=resource_ids,
        resource_names=resources.texts("name") if resources else None,
        resource_units=resources.texts("unit") if resources else None,
        resource_limits=resource_limits,
        byproducts=byproducts,
        name=manifest.get("name", shown.stem if shown.suffix.lower() == ".zip" else shown.name),
        description=manifest.get("description", ""),
        source=str(shown),
        check_productive=check_productive,
    )


def _unzip(archive: Path, scratch: Path) -> Path:
    """Extract ``archive``; returns the folder holding economy.toml (the top, or the one
    folder a zipped folder makes)."""
    try:
        with zipfile.ZipFile(archive) as z:
            z.extractall(scratch)  # extractall keeps members inside scratch (no ../ paths)
    except (zipfile.BadZipFile, OSError) as e:
        raise EconomyError(f"cannot read the zip file: {e}", Where(str(archive))) from None
    if not (scratch / MANIFEST).is_file():
        inner = [p for p in scratch.iterdir() if p.is_dir() and (p / MANIFEST).is_file()]
        if len(inner) == 1:
            return inner[0]
    return scratch


def _read_manifest(folder: Path, shown: Path) -> dict:
    path = folder / MANIFEST
    where = Where(str(shown / MANIFEST))
    if not path.is_file():
        raise EconomyError(
            f"not an economy bundle: the folder has no {MANIFEST} "
            f"(a bundle needs one, with format = {FORMAT!r} and version = {VERSION})",
            Where(str(shown)),
        )
    try:
        manifest = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise EconomyError(f"not valid TOML: {e}", where) from None

    def problem(message: str, key: str) -> EconomyError:
        return EconomyError(message, Where(where.source, field=key))

    if manifest.get("format") != FORMAT:
        raise problem(
            f"format is {manifest.get('format')!r}; an economy bundle has format = {FORMAT!r}",
            "format",
        )
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise problem(
            f"version is {version!r}; it must be a whole number (this councilplan writes "
            f"{VERSION})",
            "version",
        )
    if version > VERSION:
        raise problem(
            f"the bundle is format version {version}, but this councilplan reads versions up "
            f"to {VERSION}; upgrade councilplan to read it",
            "version",
        )
    unknown = sorted(set(manifest) - _MANIFEST_KEYS)
    if unknown:
        raise problem(
            f"unknown key(s) {', '.join(map(repr, unknown))}; "
            f"the manifest may have: {', '.join(sorted(_MANIFEST_KEYS))}",
            unknown[0],
        )
    for key in ("name", "description"):
        if key in manifest and not isinstance(manifest[key], str):
            raise problem(f"{key} must be text, in quotes", key)
    byproducts = manifest.get("byproducts", [])
    if not isinstance(byproducts, list) or not all(isinstance(b, str) for b in byproducts):
        raise problem('byproducts must be a list of product ids, like ["scrap"]', "byproducts")
    return manifest


def _check_no_stray_tables(folder: Path, shown: Path) -> None:
    """A table file with an unknown name is most likely a misspelt one; say so."""
    known = {spec.name for spec in TABLES}
    for entry in sorted(folder.iterdir()):
        stem = tables.stem(entry.name)
        if stem is not None and stem not in known and entry.is_file():
            raise EconomyError(
                f"unknown table {entry.name!r}; a bundle's tables are "
                f"{', '.join(spec.name for spec in TABLES)} (other tables, like needs, "
                "belong in a folder of their own, such as needs/)",
                Where(str(shown / entry.name)),
            )


def _has_rows(table: tables.Table, why: str) -> None:
    if table.n_rows == 0:
        raise EconomyError(f"the table has no rows, only a header; {why}", table.where())


def _listed_ids(table: tables.Table, what: str) -> np.ndarray:
    """The ``id`` column of a table that lists things. An id with whitespace around it or
    a repeated id is reported here, before anything refers to the ids, so that the error
    is not an "unknown id" in another table.

    Whitespace around an id is refused, not stripped: ids are compared exactly, here, in
    Parquet tables, in make_economy and in needs and limits files, and an id that one
    reader strips and another does not would mean two things. Stripping would also cost
    a pass over every id of the 10^7-row coefficient tables on every read; refusing costs
    only this pass over the listed ids (Arrow trims exactly the characters str.strip does).
    """
    ids = table.ids("id")
    column = tables.decoded(table.columns["id"])
    spaced = pc.not_equal(pc.utf8_trim_whitespace(column), column)
    if pc.any(spaced).as_py():
        row = tables.first_true(spaced)
        value = str(ids[row - 1])
        raise EconomyError(
            f"{what} id {value!r} {_SPACED} {value.strip()!r}",
            table.where(row=row, id=value, field="id"),
        )
    if pc.count_distinct(column).as_py() < len(ids):
        checked_ids(ids, what, table.shown)  # raises, naming both rows
    return ids


# An id with whitespace around it, and what to do.
_SPACED = "has whitespace around it; ids are compared exactly, so write"


def _positions(table: tables.Table, column: str, ids: np.ndarray) -> np.ndarray:
    """Positions in ``ids`` of the ids in ``column``; an unknown id is an error naming it."""
    found = table.positions(column, pa.array(ids, type=pa.string()))
    if found.null_count:
        row = tables.first_true(pc.is_null(found))
        value = table.columns[column][row - 1].as_py()
        if not value:
            table.ids(column)  # raises: the cell is empty
        where = table.where(row=row, id=value, field=column)
        stripped = value.strip()
        if stripped != value and stripped in set(ids.tolist()):
            raise EconomyError(f"{column} {value!r} {_SPACED} {stripped!r}", where)
        hint = " (it also has whitespace around it)" if stripped != value else ""
        raise EconomyError(
            f"unknown {column} {value!r}{hint}: it is not in the {_LISTED_IN[column]} table",
            where,
        )
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def _byproducts(manifest: dict, product_ids: np.ndarray, shown: Path) -> list[str]:
    """The manifest's by-products, each checked to be a listed product."""
    byproducts = manifest.get("byproducts", [])
    if byproducts:
        listed = pc.is_in(pa.array(byproducts, pa.string()), pa.array(product_ids, pa.string()))
        if not pc.all(listed).as_py():
            name = byproducts[tables.first_true(pc.invert(listed)) - 1]
            raise EconomyError(
                f"by-product {name!r} is not in the products table; byproducts lists product ids",
                Where(str(shown / MANIFEST), id=name, field="byproducts"),
            )
    return byproducts


def _marked(ids: np.ndarray, chosen: list[str]) -> np.ndarray:
    """A boolean per id: is it one of ``chosen``?"""
    if not chosen:
        return np.zeros(len(ids), dtype=bool)
    marked = pc.is_in(pa.array(ids, pa.string()), pa.array(chosen, pa.string()))
    return marked.to_numpy(zero_copy_only=False)


def _checked(table: tables.Table, name: str, ids: np.ndarray) -> np.ndarray:
    """NUMBER column ``name`` of a table that lists things, checked: an output must be a
    finite number > 0, a capacity or limit a number >= 0 (inf: none). The first bad value
    is an error naming its file, row, id and column."""
    values = table.numbers(name)
    if name == "output":
        bad = ~np.isfinite(values) | (values <= 0)
    else:
        bad = np.isnan(values) | (values < 0)
    if not bad.any():
        return values
    row = int(np.flatnonzero(bad)[0])
    value, id = float(values[row]), str(ids[row])
    if name == "output":
        rule = (
            "a technique must make a positive quantity"
            if np.isfinite(value)
            else "it must be a finite number"
        )
        message = f"technique {id!r} has output {value!r}; {rule}"
    else:
        what = {"techniques": "capacity of technique", "labour_kinds": "limit of labour kind"}
        what = what.get(table.spec.name, "limit of resource")
        message = f"{what} {id!r} is {value!r}; a limit must be >= 0 (or empty for none)"
    raise EconomyError(message, table.where(row=row + 1, id=id, field=name))


def _coefficients(
    table: tables.Table | None,
    row_ids: np.ndarray,
    technique_ids: np.ndarray,
    may_be_negative: np.ndarray | None = None,
):
    """(row positions, technique positions, quantities) of a long coefficient table.

    Every quantity must be finite and >= 0, except that an input of a product marked in
    ``may_be_negative`` (a declared by-product) may be negative; the first bad quantity
    is an error naming its file, row, technique and column."""
    if table is None:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    key = table.spec.columns[1].name
    if len(row_ids) == 0 and table.n_rows:
        raise EconomyError(
            f"the table uses {key} {table.columns[key][0].as_py()!r}, but the bundle lists no "
            f"{_LISTED_IN[key]}",
            table.where(row=1, field=key),
        )
    techniques = _positions(table, "technique", technique_ids)
    rows = _positions(table, key, row_ids)
    quantity = table.numbers("quantity")
    negative = quantity < 0
    if may_be_negative is not None and negative.any():
        negative &= ~may_be_negative[rows]
    bad = negative | ~np.isfinite(quantity)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        value = float(quantity[at])
        technique, other = str(technique_ids[techniques[at]]), str(row_ids[rows[at]])
        if key == "product" and np.isfinite(value):
            message = (
                f"technique {technique!r} has a negative input {value!r} of {other!r}; "
                f"declare {other!r} a by-product if that is meant"
            )
        elif key == "product":
            message = (
                f"input of {other!r} to technique {technique!r} is {value!r}; "
                "it must be a finite number"
            )
        else:
            message = (
                f"{'labour' if key == 'labour' else 'resource use'} of {other!r} by technique "
                f"{technique!r} is {value!r}; it must be a finite number >= 0"
            )
        raise EconomyError(message, table.where(row=at + 1, id=technique, field="quantity"))
    _check_unique(table, techniques, rows, key)
    return rows, techniques, quantity


def _dense(table: tables.Table | None, row_ids, technique_ids) -> np.ndarray:
    rows, cols, values = _coefficients(table, row_ids, technique_ids)
    dense = np.zeros((len(row_ids), len(technique_ids)))
    dense[rows, cols] = values
    return dense


def _check_unique(table: tables.Table, techniques: np.ndarray, rows: np.ndarray, key: str):
    """Each (technique, row id) pair at most once: a repeat is an error naming both rows."""
    if len(techniques) < 2:
        return
    pair = techniques * (int(rows.max()) + 1) + rows
    if np.all(pair[1:] > pair[:-1]):  # sorted, as write_bundle writes: no sort needed
        return
    order = np.argsort(pair, kind="stable")
    repeats = np.flatnonzero(pair[order][1:] == pair[order][:-1])
    if repeats.size:
        # Report the repeat that comes first in the file, so it is easy to find.
        i = int(np.argmin(order[repeats + 1]))
        earlier, later = int(order[repeats[i]]) + 1, int(order[repeats[i] + 1]) + 1
        technique = table.columns["technique"][later - 1].as_py()
        other = table.columns[key][later - 1].as_py()
        raise EconomyError(
            f"technique {technique!r} and {key} {other!r} are given again (first in row "
            f"{earlier}); give each pair once",
            table.where(row=later, id=technique, field=key),
        )


# -- writing -----------------------------------------------------------------------------


def write_bundle(economy: Economy, path: str | os.PathLike, *, table_format: str = "auto") -> Path:
    """Write ``economy`` as a bundle in folder ``path`` (a zip file if it ends in .zip).
    Returns the path written.

    ``table_format`` is "csv", "parquet" or "auto": CSV, except Parquet for a table of more
    than :data:`AUTO_PARQUET_ROWS` rows. The folder is created if needed; a bundle already
    there is replaced (its tables, in any format, and its manifest; other files stay).
    """
    if table_format not in ("auto", "csv", "parquet"):
        raise ValueError(f"table_format must be 'auto', 'csv' or 'parquet', not {table_format!r}")
    path = Path(path)
    if path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="councilplan-bundle-") as scratch:
            folder = _write_folder(economy, Path(scratch), table_format)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
                for file in sorted(folder.iterdir()):
                    z.write(file, file.name)
            partial.replace(path)
        return path
    return _write_folder(economy, path, table_format)


def _write_folder(economy: Economy, folder: Path, table_format: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in [MANIFEST] + [spec.name + s for spec in TABLES for s in tables.SUFFIXES]:
        if (folder / name).is_file():
            (folder / name).unlink()

    manifest = {"format": FORMAT, "version": VERSION, "name": economy.name}
    if economy.description:
        manifest["description"] = economy.description
    if economy.byproducts:
        manifest["byproducts"] = sorted(economy.byproducts)
    # Multi-line strings read best, but TOML reads a CR LF in them back as LF.
    multiline = "\r" not in economy.name + economy.description
    (folder / MANIFEST).write_text(tomli_w.dumps(manifest, multiline_strings=multiline), "utf-8")

    def write(spec: TableSpec, **columns) -> None:
        rows = len(next(iter(columns.values())))
        chosen = table_format
        if chosen == "auto":
            chosen = "parquet" if rows > AUTO_PARQUET_ROWS else "csv"
        tables.write(folder, spec, columns, chosen)

    e = economy
    write(PRODUCTS, id=e.product_ids, name=e.product_names, unit=e.product_units)
    write(
        TECHNIQUES,
        id=e.technique_ids,
        product=e.product_ids[e.technique_product],
        output=e.technique_output,
        capacity=_limits(e.capacity),
    )
    a = e.inputs
    write(INPUTS, **_long(e.technique_ids, a.indptr, a.indices, e.product_ids, "product", a.data))
    write(
        LABOUR_KINDS,
        id=e.labour_ids,
        name=e.labour_names,
        unit=e.labour_units,
        limit=_limits(e.labour_limits),
    )
    write(LABOUR_USE, **_long_dense(e.technique_ids, e.labour, e.labour_ids, "labour"))
    if e.n_resources:
        write(
            RESOURCES,
            id=e.resource_ids,
            name=e.resource_names,
            unit=e.resource_units,
            limit=_limits(e.resource_limits),
        )
        write(
            RESOURCE_USE,
            **_long_dense(e.technique_ids, e.resource_use, e.resource_ids, "resource"),
        )
    return folder


def _limits(values: np.ndarray) -> pa.Array:
    """Limits with an empty cell for "no limit" (inf)."""
    return pa.array(values, type=pa.float64(), mask=np.isposinf(values))


def _long(technique_ids, indptr, indices, row_ids, key, data) -> dict[str, pa.Array]:
    """Long form of a CSC matrix: one row per stored entry, in technique order. The id
    columns are dictionary-encoded Arrow arrays, so 10^7 rows make no Python strings."""
    technique = np.repeat(np.arange(len(technique_ids), dtype=np.int32), np.diff(indptr))
    return {
        "technique": _encoded(technique, technique_ids),
        key: _encoded(np.asarray(indices, dtype=np.int32), row_ids),
        "quantity": pa.array(np.asarray(data, dtype=np.float64)),
    }


def _long_dense(technique_ids, matrix: np.ndarray, row_ids, key) -> dict[str, pa.Array]:
    m = sp.csc_array(matrix)
    m.sort_indices()
    return _long(technique_ids, m.indptr, m.indices, row_ids, key, m.data)


def _encoded(positions: np.ndarray, ids: np.ndarray) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(positions), pa.array(ids, type=pa.string()))
