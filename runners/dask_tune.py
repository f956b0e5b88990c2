#!/usr/bin/env python3
"""Run `rehearse tune`, `sweep` or `check` as N shards on a Dask distributed cluster,
then merge them with `rehearse merge`.

Each shard is one Dask task running `rehearse COMMAND ARGS... --shard i/N` in a
subprocess on a worker; a task that fails (the process dies, exits with an unexpected
status, or the worker is lost) is retried by Dask up to `--retries` times. The shard
summaries come back to this process, which writes them to a directory and runs
`rehearse merge` on them: the merged output is byte for byte the unsharded command's
`--json` output. Scheduling, retries and worker loss are Dask's; this script only
states the tasks.

    python runners/dask_tune.py --shards 8 --local-workers 2 -- \\
        tune library --vary rollout.sustain=1m:15m:1m > tune.json
    python runners/dask_tune.py --shards 8 --scheduler tcp://scheduler:8786 \\
        --rehearse /usr/local/bin/rehearse -- check scenarios > check.json

Every worker must be able to run the `--rehearse` binary and read the paths in the
arguments (the same image and volume on Kubernetes; the same machine for a
LocalCluster). The exit status is `rehearse merge`'s: 0, or 5 when a merged `check`
found a failing scenario; 2 for a usage error here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

COMMANDS = ("tune", "sweep", "check")


def shard_args(command: str, args: list[str], i: int, n: int) -> list[str]:
    """The arguments of shard `i` of `n` (`--shard` last, after the user's)."""
    return [command, *args, "--shard", f"{i}/{n}"]


def run_shard(rehearse: str, command: str, args: list[str], i: int, n: int) -> bytes:
    """Runs one shard and returns its summary. Raises (so Dask retries the task) when
    the process fails; `check` exits 5 when one of its scenarios failed, which is a
    result, not a failure of the task."""
    ok = {0, 5} if command == "check" else {0}
    proc = subprocess.run(
        [rehearse, *shard_args(command, args, i, n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=False,
    )
    if proc.returncode not in ok:
        raise RuntimeError(
            f"shard {i}/{n}: `rehearse {command}` exited {proc.returncode}: "
            + proc.stderr.decode(errors="replace").strip()[-2000:]
        )
    return proc.stdout


def parse(argv: list[str]) -> tuple[argparse.Namespace, str, list[str]]:
    p = argparse.ArgumentParser(
        description="Map `rehearse tune|sweep|check --shard i/N` over a Dask cluster and merge the shards.",
        usage="%(prog)s [options] -- {tune,sweep,check} ARGS...",
    )
    p.add_argument("--shards", type=int, required=True, help="how many shards (N)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="a Dask scheduler's address (tcp://host:8786)")
    where.add_argument(
        "--local-workers",
        type=int,
        default=2,
        help="without --scheduler: a LocalCluster of this many worker processes on 127.0.0.1 (default 2)",
    )
    p.add_argument("--retries", type=int, default=3, help="retries per shard (default 3)")
    p.add_argument("--rehearse", default="rehearse", help="the rehearse binary, as the workers reach it")
    p.add_argument("--out", help="write the merged output here (atomically) instead of stdout")
    p.add_argument("--keep", help="keep the shard summaries in this directory")
    if "--" not in argv:
        p.error("give the rehearse command after `--`, e.g. -- tune library --vary ...")
    cut = argv.index("--")
    opts = p.parse_args(argv[:cut])
    rest = argv[cut + 1 :]
    if not rest or rest[0] not in COMMANDS:
        p.error(f"the command after `--` must be one of {', '.join(COMMANDS)}")
    if opts.shards < 1:
        p.error("--shards must be at least 1")
    if opts.retries < 0:
        p.error("--retries must be 0 or more")
    if any(a == "--shard" or a.startswith("--shard=") for a in rest):
        p.error("leave --shard out: the runner adds it to each shard")
    return opts, rest[0], rest[1:]


def write_atomic(path: str, data: bytes) -> None:
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".dask_tune.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str]) -> int:
    opts, command, args = parse(argv)
    from contextlib import ExitStack

    from dask.distributed import Client, LocalCluster

    with ExitStack() as stack:
        if opts.scheduler:
            client = stack.enter_context(Client(opts.scheduler))
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=opts.local_workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))
        futures = [
            client.submit(
                run_shard,
                opts.rehearse,
                command,
                args,
                i,
                opts.shards,
                key=f"rehearse-{command}-shard-{i}-of-{opts.shards}-{os.getpid()}",
                retries=opts.retries,
                pure=False,
            )
            for i in range(opts.shards)
        ]
        summaries = client.gather(futures)

    with tempfile.TemporaryDirectory(prefix="dask_tune.") as tmp:
        where = opts.keep or tmp
        os.makedirs(where, exist_ok=True)
        files = []
        for i, s in enumerate(summaries):
            path = os.path.join(where, f"shard-{i}.json")
            with open(path, "wb") as f:
                f.write(s)
            files.append(path)
        merged = subprocess.run(
            [opts.rehearse, "merge", *files], stdout=subprocess.PIPE, check=False
        )
    if merged.returncode not in (0, 5):
        sys.stderr.write(f"rehearse merge exited {merged.returncode}\n")
        return merged.returncode
    if opts.out:
        write_atomic(opts.out, merged.stdout)
    else:
        sys.stdout.buffer.write(merged.stdout)
        sys.stdout.flush()
    return merged.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
