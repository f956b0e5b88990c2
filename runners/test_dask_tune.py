#!/usr/bin/env python3
"""CI check of runners/dask_tune.py on a Dask LocalCluster (127.0.0.1, 2 worker
processes): `tune`, `sweep` and `check` mapped over shards and merged must give exactly
the bytes of the single-process `--json` run. One shard's first attempt fails (a
wrapper around the binary exits 1 once), so the merge also proves Dask's retry.

    target/dask-venv/bin/python runners/test_dask_tune.py target/debug/rehearse
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RUNNER = os.path.join(HERE, "dask_tune.py")


def single(rehearse: str, command: str, args: list[str]) -> bytes:
    proc = subprocess.run([rehearse, command, *args, "--json"], stdout=subprocess.PIPE, check=False)
    ok = {0, 5} if command == "check" else {0}
    assert proc.returncode in ok, f"rehearse {command} exited {proc.returncode}"
    return proc.stdout


def flaky_wrapper(rehearse: str, tmp: str) -> tuple[str, str]:
    """A wrapper that fails shard 1's first attempt, then runs the binary."""
    marker = os.path.join(tmp, "failed-once")
    path = os.path.join(tmp, "flaky-rehearse")
    with open(path, "w") as f:
        f.write(
            "#!/bin/sh\n"
            f'case " $* " in *" --shard 1/"*) if [ ! -e "{marker}" ]; then : > "{marker}"; '
            'echo "injected failure" >&2; exit 1; fi;; esac\n'
            f'exec "{rehearse}" "$@"\n'
        )
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path, marker


def dask(rehearse: str, shards: int, command: str, args: list[str]) -> bytes:
    proc = subprocess.run(
        [
            sys.executable,
            RUNNER,
            "--shards",
            str(shards),
            "--local-workers",
            "2",
            "--retries",
            "2",
            "--rehearse",
            rehearse,
            "--",
            command,
            *args,
        ],
        stdout=subprocess.PIPE,
        check=False,
    )
    assert proc.returncode in (0, 5), f"dask_tune.py {command} exited {proc.returncode}"
    return proc.stdout


def main() -> int:
    rehearse = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/rehearse"))
    with tempfile.TemporaryDirectory(prefix="dask-test.") as tmp:
        # A small library (one incident, one clean twin) and a few scenarios, so the
        # debug binary's shards (each replays everything) stay quick.
        lib = os.path.join(tmp, "library")
        os.makedirs(lib)
        for name in ("incident-07-5xx-burst-short.toml", "clean-rps-10.toml"):
            shutil.copy(os.path.join(ROOT, "library", name), lib)
        scen = os.path.join(tmp, "scenarios")
        os.makedirs(scen)
        for name in ("01-clean-rollout.toml", "02-5xx-sustained.toml", "07-5xx-burst-short.toml", "69-judge-5xx-leak.toml"):
            shutil.copy(os.path.join(ROOT, "scenarios", name), scen)
        cases = [
            ("tune", [lib, "--vary", "go.error_rate_5xx=0.005,0.01,0.02", "--vary", "rollout.sustain=1m,3m,5m,8m"], 3),
            ("sweep", [os.path.join(ROOT, "datasets/demo"), "--vary", "triggers.error_rate_5xx=0.004:0.008:0.001"], 2),
            ("check", [scen], 3),
        ]
        for command, args, shards in cases:
            flaky, marker = flaky_wrapper(rehearse, tmp)
            want = single(rehearse, command, args)
            got = dask(flaky, shards, command, args)
            assert os.path.exists(marker), f"{command}: shard 1 was never attempted"
            os.unlink(marker)
            assert got == want, f"{command}: the Dask run's merged output differs from the single-process one"
            print(f"dask runner: {command} over {shards} shards (one retried) == single-process --json ({len(want)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
