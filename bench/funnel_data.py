"""Writes the funnel benchmark datasets of bench/funnel.sh.

Reads the funnel stream `rehearse generate bench/funnel.toml --format parquet` wrote,
keeps its first 10,000,000 events in time order (a stable sort by `ts`, so file order
on ties, as benches/funnel.rs does) and writes that one table three times, each with a
writer's own defaults:

  OUT/polars/funnel.parquet    polars     (zstd, its default row groups)
  OUT/pyarrow/funnel.parquet   pyarrow    (snappy, its default row groups)
  OUT/duckdb/funnel.parquet    DuckDB     (COPY ... (FORMAT parquet): snappy, 122,880-row groups)

Each directory also gets the generated `dataset.toml` and `ledger.parquet`, so it is a
dataset `rehearse funnel DIR` reads. Usage: funnel_data.py GENERATED_DIR OUT [EVENTS]
"""

import shutil
import sys
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq


def main() -> None:
    gen, out = Path(sys.argv[1]), Path(sys.argv[2])
    events = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000_000
    df = pl.read_parquet(gen / "funnel.parquet")
    df = df.sort("ts", maintain_order=True).head(events)
    if df.height != events:
        sys.exit(f"{gen}/funnel.parquet has only {df.height} events, {events} wanted")
    for writer in ("polars", "pyarrow", "duckdb"):
        d = out / writer
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(gen / "dataset.toml", d / "dataset.toml")
        shutil.copy(gen / "ledger.parquet", d / "ledger.parquet")
        tmp = d / "funnel.parquet.tmp"
        if writer == "polars":
            df.write_parquet(tmp)
        elif writer == "pyarrow":
            pq.write_table(df.to_arrow(), tmp)
        else:
            con = duckdb.connect()
            con.register("funnel", df.to_arrow())
            con.execute(f"COPY funnel TO '{tmp}' (FORMAT parquet)")
            con.close()
        tmp.rename(d / "funnel.parquet")
        meta = pq.ParquetFile(d / "funnel.parquet").metadata
        codec = meta.row_group(0).column(0).compression
        print(
            f"{d}/funnel.parquet: {meta.num_rows} rows, {meta.num_row_groups} row groups, "
            f"{codec}, {(d / 'funnel.parquet').stat().st_size / 1e6:.0f} MB"
        )


if __name__ == "__main__":
    main()
