"""Reads Bothy's typed exports as analysts' tools do and compares them with the JSON Lines export.

Usage: check_typed.py DIR DATASET...

DIR holds, for each DATASET, `<dataset>.parquet` and `<dataset>.jsonl` (the same rows), and
`package.zip` (the data package of those datasets). Checks, with no typing by hand:
- pyarrow reads each Parquet file; category columns are dictionaries; the rows equal the JSON
  Lines rows (dates as ISO dates, times as instants, decimals within 1e-12);
- frictionless validates the data package, and each resource's rows, typed from
  datapackage.json, equal the JSON Lines rows once the CSV formula guard (a ' in front of text
  beginning with = + - @ tab or CR) is removed.
Prints one line per dataset; exits non-zero on the first difference.
"""

import datetime
import decimal
import json
import pathlib
import sys
import tempfile
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
from frictionless import Package

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def jsonl(path):
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def unguard(v):
    if isinstance(v, str) and v.startswith("'") and v[1:].startswith(FORMULA_STARTS):
        return v[1:]
    return v


def same(got, want, where):
    if want is None or got is None:
        # CSV writes an empty text and a missing value alike.
        assert got is None and want in (None, ""), f"{where}: {got!r} != {want!r}"
    elif isinstance(want, bool) or isinstance(got, bool):
        assert got is want, f"{where}: {got!r} != {want!r}"
    elif isinstance(got, datetime.datetime):
        want_t = datetime.datetime.fromisoformat(want.replace("Z", "+00:00"))
        assert got == want_t, f"{where}: {got!r} != {want!r}"
    elif isinstance(got, datetime.date):
        assert got.isoformat() == want, f"{where}: {got!r} != {want!r}"
    elif isinstance(got, (float, decimal.Decimal)) or isinstance(want, float):
        g, w = float(got), float(want)
        assert abs(g - w) <= 1e-12 * max(1.0, abs(w)), f"{where}: {got!r} != {want!r}"
    else:
        assert got == want and type(got) is type(want), f"{where}: {got!r} != {want!r}"


def check_rows(got_rows, want_rows, names, where):
    assert len(got_rows) == len(want_rows), f"{where}: {len(got_rows)} rows, JSONL has {len(want_rows)}"
    for i, (got, want) in enumerate(zip(got_rows, want_rows)):
        assert list(want) == names, f"{where}: JSONL columns {list(want)} != {names}"
        for name in names:
            same(got[name], want[name], f"{where} row {i + 1} `{name}`")


def main():
    d = pathlib.Path(sys.argv[1])
    datasets = sys.argv[2:]
    wanted = {name: jsonl(d / f"{name}.jsonl") for name in datasets}

    for name in datasets:
        table = pq.read_table(d / f"{name}.parquet")
        names = table.column_names
        for field in table.schema:
            meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
            if "bothy:values" in meta:
                assert pa.types.is_dictionary(field.type), f"{name}.{field.name}: {field.type}"
        file_meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        assert file_meta.get("bothy:dataset") == name, file_meta.keys()
        json.loads(file_meta["bothy:filters"])
        check_rows(table.to_pylist(), wanted[name], names, f"{name}.parquet")
        print(f"{name}: parquet {table.num_rows} rows")

    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(d / "package.zip") as z:
            z.extractall(tmp)
        package = Package(str(pathlib.Path(tmp) / "datapackage.json"))
        report = package.validate()
        assert report.valid, report.flatten(["type", "title", "rowNumber", "fieldName", "note"])
        by_path = {r.path: r for r in package.resources}
        assert sorted(by_path) == sorted(f"{n}.csv" for n in datasets), sorted(by_path)
        for name in datasets:
            resource = by_path[f"{name}.csv"]
            names = [f.name for f in resource.schema.fields]
            rows = [
                {k: unguard(v) for k, v in row.to_dict().items()} for row in resource.read_rows()
            ]
            check_rows(rows, wanted[name], names, f"{name}.csv")
            print(f"{name}: package {len(rows)} rows")


if __name__ == "__main__":
    main()
