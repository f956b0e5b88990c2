"""Checks the DuckDB peer's verdict against `rehearse run --json`'s on the same file:
outcome, rollback instant, stage and triggers, each judged stage's verdict and its
request-gate reasons, and every request gate's breach count. Exits 1 (printing the
differences) when they disagree, so a benchmark never times a peer that computes
something else.

Usage: compare_gates.py REHEARSE_REPORT.json PEER_OUTPUT.json
"""
import json, subprocess, sys, datetime
GATES = ["error_rate_5xx","error_rate_4xx_nonauth","latency_p95","latency_p99","budget_burn","endpoint_latency_p95","availability","insufficient_data"]
def ms(s): return int(datetime.datetime.fromisoformat(s.replace("Z","+00:00")).timestamp()*1000)
def compare(rehearse_json, peer_json):
    r, p = json.loads(rehearse_json), json.loads(peer_json)
    mine = {"outcome": r["outcome"],
            "rollback": r["rollback"] and {"at_ms": ms(r["rollback"]["at"]), "stage": r["rollback"]["stage"], "triggers": [t for t in r["rollback"]["triggers"] if t in GATES]},
            "stages": [s["verdict"] for s in r["stages"] if s["verdict"] != "not_run"],
            "reasons": [[x for x in s["reasons"] if x in GATES] for s in r["stages"] if s["verdict"] != "not_run"],
            "breaches": {g["id"]: g["breaches"] for g in r["gates"] if g["id"] in GATES}}
    theirs = {"outcome": p["outcome"], "rollback": p["rollback"], "stages": [s["verdict"] for s in p["stages"]],
              "reasons": [s.get("reasons", []) for s in p["stages"]], "breaches": p["breaches"]}
    return mine, theirs
if __name__ == "__main__":
    a, b = compare(open(sys.argv[1]).read(), open(sys.argv[2]).read())
    if a != b:
        for k in a:
            if a[k] != b.get(k): print("  DIFF", k, "rehearse:", a[k], "peer:", b.get(k))
        sys.exit(1)
    print("  same:", a["outcome"], a["rollback"])
