"""Rewrites a requests dataset's Parquet file the way three common writers write it, so
the benchmark reads what a team's pipeline would hand over, not only what `rehearse
generate` writes:

- `polars`: `DataFrame.write_parquet` with its defaults (zstd, dictionary pages, row
  groups of polars' default size);
- `pyarrow`: `pyarrow.parquet.write_table` with its defaults (snappy, dictionary pages);
- `duckdb`: `COPY ... TO (FORMAT parquet)` with its defaults (snappy, 122,880-row
  row groups; timestamps become microseconds with a time zone).

Usage: writers.py SOURCE_DATASET_DIR OUT_DIR
Writes OUT_DIR/<writer>/ with requests.parquet, the source's probes file and its
dataset.toml, so each is a dataset `rehearse run` reads. Prints one line per writer:
its row groups, compression and size.
"""

import shutil
import sys
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

src, out = Path(sys.argv[1]), Path(sys.argv[2])
requests = src / "requests.parquet"
table = pq.read_table(requests)
for writer in ["polars", "pyarrow", "duckdb"]:
    d = out / writer
    d.mkdir(parents=True, exist_ok=True)
    target = d / "requests.parquet"
    if not target.exists():
        tmp = d / "requests.parquet.tmp"
        if writer == "polars":
            pl.from_arrow(table).write_parquet(tmp)
        elif writer == "pyarrow":
            pq.write_table(table, tmp)
        else:
            con = duckdb.connect()
            con.register("t", table)
            con.execute(f"COPY t TO '{tmp}' (FORMAT parquet)")
        tmp.rename(target)
    for f in src.iterdir():
        if f.name != "requests.parquet" and f.is_file():
            shutil.copy(f, d / f.name)
    md = pq.ParquetFile(target).metadata
    codec = md.row_group(0).column(0).compression
    print(f"{writer:8} {md.num_row_groups:4} row groups  {codec:8} {target.stat().st_size / 1e6:8.1f} MB  {md.created_by}")
