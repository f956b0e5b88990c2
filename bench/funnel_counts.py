"""Reads `rehearse funnel --json` on stdin and prints the counts bench/duckdb_funnel.py
prints, in the same shape, so bench/funnel.sh can compare the two before timing."""

import json
import sys


def steps(group: dict) -> dict:
    return {
        "persons": None,
        "steps": [s["persons"] for s in group["steps"]],
        "median_s": [
            None if s["median_s_from_previous"] is None else round(s["median_s_from_previous"], 4)
            for s in group["steps"]
        ],
    }


def funnel(f: dict) -> dict:
    out = steps(f)
    out["persons"] = f["persons"]
    for dim in ("by_platform", "by_cohort"):
        out[dim] = {}
        for g in f[dim]:
            s = steps(g)
            out[dim]["null" if g["value"] is None else g["value"]] = s
    return out


def attribution(rows: list) -> dict:
    return {
        r["utm_source"]: {
            "persons": r["persons"],
            "conversions": r["conversions"],
            "revenue_minor": r["revenue_minor"],
        }
        for r in rows
    }


r = json.load(sys.stdin)
out = {
    "duplicates_dropped": r["identity"]["duplicates_dropped"],
    "persons": r["persons"],
    "stitched_anonymous_ids": r["identity"]["stitched_anonymous_ids"],
    "funnel": funnel(r["funnel"]),
    "funnel_without_exclusion": funnel(r["funnel_without_exclusion"]),
    "revenue_minor": r["revenue_minor"],
    "first_touch": attribution(r["attribution"]["first_touch"]),
    "last_touch": attribution(r["attribution"]["last_touch"]),
}
print(json.dumps(out, sort_keys=True))
