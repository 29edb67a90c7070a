"""One table of an economy bundle, read from or written to CSV or Parquet.

A table is a file named after it (``inputs.csv``, ``inputs.csv.gz`` or ``inputs.parquet``)
with a header of known column names. Reading checks the columns and parses every number,
and each problem is reported with the file, the data row (1-based; the header and blank
lines are not counted) and the column, so a user can find it in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from councilplan.economy.errors import EconomyError
from councilplan.errors import Where

SUFFIXES = (".csv", ".csv.gz", ".parquet")
ID, TEXT, NUMBER = "id", "text", "number"


@dataclass(frozen=True)
class Column:
    """A column: ``kind`` is ID, TEXT or NUMBER. ``default`` fills an absent column or an
    empty cell; a required column must be present and must not have empty cells."""

    name: str
    kind: str
    required: bool = False
    default: object = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    required: bool = True

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Table:
    """A table as read: ``columns`` holds an Arrow array for every column of the spec
    (strings for TEXT, float64 for NUMBER, nulls where a cell was empty; ID columns are
    strings or, from Parquet, dictionary-encoded strings, possibly in chunks).
    ``shown`` is the file's name as errors give it."""

    spec: TableSpec
    shown: str
    columns: Mapping[str, pa.Array | pa.ChunkedArray]
    n_rows: int

    def where(self, row: int | None = None, id: str | None = None, field: str | None = None):
        return Where(self.shown, row=row, id=id, field=field)

    def ids(self, name: str) -> np.ndarray:
        """An ID column as an object array; an empty cell is an error naming its row."""
        column = decoded(self.columns[name])
        empty = pc.equal(pc.utf8_length(column), 0)
        if column.null_count or pc.any(empty).as_py():
            row = first_true(pc.or_kleene(pc.is_null(column), empty))
            raise EconomyError(
                f"column {name!r} is empty in row {row}; every row needs one",
                self.where(row=row, field=name),
            )
        return column.to_numpy(zero_copy_only=False)

    def texts(self, name: str) -> np.ndarray:
        """A TEXT column as an object array, the default where it was absent or empty."""
        column = decoded(self.columns[name])
        default = self.spec.column(name).default
        filled = pc.if_else(pc.equal(pc.fill_null(column, ""), ""), default, column)
        return filled.to_numpy(zero_copy_only=False)

    def positions(self, name: str, ids: pa.Array) -> pa.Array:
        """Position in ``ids`` of each value of ID column ``name``; null where unknown.
        A dictionary-encoded column is looked up once per distinct id."""
        column = self.columns[name]
        if not pa.types.is_dictionary(column.type):
            # One call for all chunks: the set of ids is hashed once, not once per chunk.
            found = pc.index_in(column, value_set=ids)
            return found.combine_chunks() if isinstance(found, pa.ChunkedArray) else found
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        parts, dictionary, lookup = [], None, None
        for chunk in chunks:
            # Parquet gives every batch of a row group the same whole dictionary: look it
            # up once, not once per batch.
            if dictionary is None or not chunk.dictionary.equals(dictionary):
                dictionary = chunk.dictionary
                lookup = pc.index_in(dictionary, value_set=ids)
            parts.append(pc.take(lookup, chunk.indices))
        return pa.concat_arrays(parts) if parts else pa.array([], pa.int32())

    def numbers(self, name: str) -> np.ndarray:
        """A NUMBER column as float64, the default where it was absent or empty; an empty
        cell in a required column is an error naming its row."""
        column = self.columns[name]
        spec = self.spec.column(name)
        if column.null_count:
            if spec.required:
                row = first_true(pc.is_null(column))
                raise EconomyError(
                    f"column {name!r} is empty in row {row}; give a number",
                    self.where(row=row, field=name),
                )
            column = pc.fill_null(column, float(spec.default))
        return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def stem(filename: str) -> str | None:
    """The table name of a file name (``inputs`` for ``inputs.csv.gz``), or None."""
    return next((filename[: -len(s)] for s in SUFFIXES if filename.endswith(s)), None)


def read(directory: Path, spec: TableSpec, shown: Path | None = None) -> Table | None:
    """Read table ``spec`` from ``directory``; None when an optional table is absent.
    Errors name the file as in folder ``shown`` (default: ``directory``)."""
    shown = shown or directory
    found = [
        directory / (spec.name + s) for s in SUFFIXES if (directory / (spec.name + s)).is_file()
    ]
    if len(found) > 1:
        both = " and ".join(p.name for p in found)
        raise EconomyError(
            f"table {spec.name!r} is given twice ({both}); keep one of them", Where(str(shown))
        )
    if not found:
        if spec.required:
            raise EconomyError(
                f"table {spec.name!r} is missing: expected {spec.name}.csv "
                f"(or .csv.gz, .parquet) in {shown}",
                Where(str(shown)),
            )
        return None
    path = found[0]
    where = str(shown / path.name)
    if path.suffix == ".parquet":
        raw = _read_parquet(path, spec, where)
    else:
        raw = _read_csv(path, spec, where)
    _check_header(where, spec, raw.column_names)
    n = raw.num_rows
    columns = {}
    for col in spec.columns:
        if col.name in raw.column_names:
            column = raw.column(col.name)
            # ID columns stay in chunks: positions() looks them up chunk by chunk.
            columns[col.name] = column if col.kind == ID else column.combine_chunks()
        else:
            columns[col.name] = pa.nulls(n, pa.string() if col.kind != NUMBER else pa.float64())
    return Table(spec, where, columns, n)


def write(
    directory: Path, spec: TableSpec, columns: Mapping[str, object], table_format: str
) -> Path:
    """Write ``columns`` (name -> array-like; None in a NUMBER column writes an empty cell)
    as table ``spec``, in ``table_format`` "csv" or "parquet". Returns the file written."""
    arrays = {}
    for col in spec.columns:
        values = columns[col.name]
        if isinstance(values, pa.Array):
            arrays[col.name] = values
        elif col.kind == NUMBER:
            arrays[col.name] = pa.array(values, type=pa.float64())
        else:
            arrays[col.name] = pa.array(values, type=pa.string())
    table = pa.table(arrays)
    if table_format == "parquet":
        # Plain strings: Parquet dictionary-encodes them on disk by itself, and an Arrow
        # dictionary column would be read back with a copy of its whole dictionary per batch.
        plain = [
            pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
            for f in table.schema
        ]
        path = directory / f"{spec.name}.parquet"
        pq.write_table(table.cast(pa.schema(plain)), path)
        return path
    if table_format != "csv":
        raise ValueError(f"table_format must be 'csv' or 'parquet', not {table_format!r}")
    path = directory / f"{spec.name}.csv"
    # Quote only when some text needs it, so hand-written and written tables look alike.
    quoting = "needed" if any(_needs_quotes(a) for a in table.columns) else "none"
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(table.column_names) + "\n").encode())
        pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=False, quoting_style=quoting))
    return path


# -- reading -----------------------------------------------------------------------------


def _arrow_type(kind: str) -> pa.DataType:
    return pa.float64() if kind == NUMBER else pa.string()


def _read_csv(path: Path, spec: TableSpec, shown: str, as_text: bool = False) -> pa.Table:
    types = {c.name: pa.string() if as_text else _arrow_type(c.kind) for c in spec.columns}
    convert = pcsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=False)
    try:
        return pcsv.read_csv(path, convert_options=convert)
    except pa.ArrowInvalid as e:
        message = str(e)
        if "Empty CSV file" in message:
            raise EconomyError(
                "the file is empty; it needs at least a header row", Where(shown)
            ) from None
        if "conversion error to double" in message and not as_text:
            _locate_bad_number(path, spec, shown)
        if "CSV parse error: Expected" in message:
            _locate_bad_row(path, shown)
        if "invalid UTF8" in message:
            message = "the file is not UTF-8 text; save it as UTF-8 CSV"
        raise EconomyError(f"cannot read the table: {message}", Where(shown)) from None


def _locate_bad_number(path: Path, spec: TableSpec, shown: str) -> None:
    """Raise an error naming the first cell of a NUMBER column that is not a number."""
    table = _read_csv(path, spec, shown, as_text=True)
    for col in spec.columns:
        if col.kind != NUMBER or col.name not in table.column_names:
            continue
        text = pc.utf8_trim_whitespace(table.column(col.name).combine_chunks())
        text = pc.if_else(pc.equal(text, ""), None, text)
        lo, hi = 0, len(text)
        if _parses(text):
            continue
        while hi - lo > 1:  # bisect to the first cell that does not parse
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if _parses(text.slice(lo, mid - lo)) else (lo, mid)
        value = text[lo].as_py()
        raise EconomyError(
            f"{value!r} in column {col.name!r} is not a number",
            Where(shown, row=lo + 1, field=col.name),
        )


def _locate_bad_row(path: Path, shown: str) -> None:
    """Raise an error naming the first data row whose number of values is not the
    header's (the CSV reader says only what the row holds). Rows are counted as the
    reader counts them: from 1 after the header, blank lines not counted."""
    with pa.input_stream(str(path), compression="detect") as raw:
        lines = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(lines)
        header = next(reader, [])
        row = 0
        for values in reader:
            if not values:
                continue
            row += 1
            if len(values) != len(header):
                raise EconomyError(
                    f"the row has {_count(len(values), 'value')}, but the header names "
                    f"{_count(len(header), 'column')} ({', '.join(header)})",
                    Where(shown, row=row),
                )


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _parses(text: pa.Array) -> bool:
    try:
        pc.cast(text, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _read_parquet(path: Path, spec: TableSpec, shown: str) -> pa.Table:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise EconomyError(f"cannot read the Parquet table: {e}", Where(shown)) from None
    columns = []
    for name in table.column_names:
        column = table.column(name)
        kind = next((c.kind for c in spec.columns if c.name == name), None)
        if kind is not None:
            wanted = _arrow_type(kind)
            if pa.types.is_dictionary(column.type):
                if kind == ID:  # keep the encoding: ids are looked up once per distinct value
                    wanted = pa.dictionary(column.type.index_type, pa.string())
                else:
                    column = column.cast(column.type.value_type)
            try:
                column = column.cast(wanted)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise EconomyError(
                    f"column {name!r} has type {column.type}; it must hold "
                    + ("numbers" if kind == NUMBER else "text"),
                    Where(shown, field=name),
                ) from None
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _check_header(shown: str, spec: TableSpec, names: list[str]) -> None:
    known = [c.name for c in spec.columns]
    unknown = [n for n in names if n not in known]
    repeated = sorted({n for n in names if names.count(n) > 1})
    missing = [c.name for c in spec.columns if c.required and c.name not in names]
    problems = []
    if unknown:
        problems.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
    if repeated:
        problems.append(f"repeated column(s) {', '.join(map(repr, repeated))}")
    if missing:
        problems.append(f"missing column(s) {', '.join(map(repr, missing))}")
    if problems:
        required = [c.name for c in spec.columns if c.required]
        optional = [c.name for c in spec.columns if not c.required]
        expected = ", ".join(required) + (f" (optional: {', '.join(optional)})" if optional else "")
        raise EconomyError(
            f"{'; '.join(problems)}; the header of table {spec.name!r} must name: {expected}",
            Where(shown, field="header"),
        )


def decoded(column) -> pa.Array:
    """A column as one plain array (dictionary-encoded strings decoded)."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column


def first_true(mask) -> int:
    """The 1-based row of the first true entry of a boolean Arrow array."""
    return int(np.flatnonzero(mask.to_numpy(zero_copy_only=False))[0]) + 1


# -- writing -----------------------------------------------------------------------------

_STRUCTURAL = r'[,"\r\n]'


def _needs_quotes(column: pa.ChunkedArray) -> bool:
    if pa.types.is_dictionary(column.type):
        column = pa.chunked_array([c.dictionary for c in column.chunks], column.type.value_type)
    if not pa.types.is_string(column.type):
        return False
    return bool(pc.any(pc.match_substring_regex(column, _STRUCTURAL)).as_py())
