"""Reads a sieve document shard with pyarrow and checks the schema; prints a JSON summary
that tests/it/parquet_pyarrow.rs compares with sieve's own reading of the same file."""
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq

table = pq.read_table(sys.argv[1])
expected = {
    "id": pa.string(), "dataset": pa.string(), "url": pa.string(), "text": pa.string(),
    "lang": pa.string(), "lang_score": pa.float32(), "quality": pa.float32(),
    "warc_path": pa.string(), "warc_offset": pa.uint64(), "warc_record_id": pa.string(),
}
for name, typ in expected.items():
    field = table.schema.field(name)
    assert field.type == typ, f"{name}: {field.type} != {typ}"
assert pa.types.is_map(table.schema.field("meta").type), table.schema.field("meta").type
assert table.schema.names[: len(expected)] == list(expected), table.schema.names
rows = table.to_pylist()
print(json.dumps({
    "rows": table.num_rows,
    "first_id": rows[0]["id"],
    "first_url": rows[0]["url"],
    "text_chars": sum(len(r["text"]) for r in rows),
    "first_meta_charset": dict(rows[0]["meta"])["charset"],
}))
