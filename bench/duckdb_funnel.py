"""The DuckDB peer of `rehearse funnel`: the same B2C funnel, written as an analyst
would in DuckDB SQL over one funnel Parquet file, printing the counts bench/funnel.sh
compares with `rehearse funnel --json` before it times anything.

What it computes (docs/analytics.md, sections 1-4, with the default policy):
- delivery duplicates: rows repeating an earlier `message_id` (file order) are dropped;
- persons: an event's person is its `user_id`; an event with only an `anonymous_id`
  belongs to the user id that anonymous id carries on its earliest event holding both
  (timestamp, then file order), else to the anonymous id itself;
- exclusion: a person is synthetic with one synthetic event (`test_mode`, a
  `SyntheticCanary`/`DatadogSynthetics` user agent, or `e2e=1` in the URL's query),
  canary-only when every event is in the canary cohort; both are excluded;
- platform and cohort of a person: those of their earliest event;
- the furthest step: per person, step events in (ts, step, file) order; from each
  visit, the next search, then the next shortlist after it, and so on, each within
  24 h of that visit (inclusive); the best chain over visits, the earliest visit among
  equals giving the step instants and the median times between steps;
- first touch (earliest event with a `utm_source`) and last touch (latest one at or
  before the first `credit_purchase`), with paying persons and revenue in minor units
  (ISO 4217 exponents, decimal arithmetic, half away from zero).

The query is plain SQL with window functions and hash joins: "the next step-k event"
is a running MIN over the following rows of the person's ordered step events, and a
chain is four equi-joins on those positions (no range join).

Usage: duckdb_funnel.py FUNNEL.parquet [--threads N]; prints one JSON object.
"""

import json
import sys

import duckdb

STEPS = ["visit", "search", "shortlist", "application_start", "credit_purchase"]
WINDOW_MS = 24 * 3600 * 1000
EXP0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
EXP3 = "BHD IQD JOD KWD LYD OMR TND".split()
EXP4 = "CLF UYW".split()


def sql_list(xs):
    return ", ".join(f"'{x}'" for x in xs)


def main() -> None:
    path = sys.argv[1]
    threads = None
    if "--threads" in sys.argv:
        threads = int(sys.argv[sys.argv.index("--threads") + 1])
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    steps_case = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STEPS))
    con.execute(
        f"""
CREATE TEMP TABLE ev AS
WITH raw AS (
  SELECT file_row_number AS r,
         epoch_ms(ts) AS t,
         event,
         NULLIF(user_id, '') AS uid,
         NULLIF(anonymous_id, '') AS aid,
         NULLIF(cohort, '') AS cohort,
         NULLIF(platform, '') AS platform,
         NULLIF(utm_source, '') AS utm,
         revenue,
         NULLIF(currency, '') AS currency,
         NULLIF(message_id, '') AS msg,
         coalesce(test_mode, false)
           OR contains(coalesce(user_agent, ''), 'SyntheticCanary')
           OR contains(coalesce(user_agent, ''), 'DatadogSynthetics')
           OR regexp_matches(split_part(split_part(coalesce(page_url, ''), '#', 1), '?', 2),
                             '(^|&)e2e=1(&|$)')
           AS synth
  FROM read_parquet('{path}', file_row_number = true)
)
SELECT * FROM raw
QUALIFY msg IS NULL OR row_number() OVER (PARTITION BY msg ORDER BY r) = 1
"""
    )
    duplicates = con.execute(
        f"SELECT (SELECT count(*) FROM read_parquet('{path}')) - (SELECT count(*) FROM ev)"
    ).fetchone()[0]
    # Identity: each anonymous id's user id on its earliest event holding both.
    con.execute(
        """
CREATE TEMP TABLE stitch AS
SELECT aid, arg_min(uid, (t, r)) AS uid
FROM ev WHERE uid IS NOT NULL AND aid IS NOT NULL
GROUP BY aid
"""
    )
    con.execute(
        f"""
CREATE TEMP TABLE pe AS
SELECT coalesce(ev.uid, s.uid, ev.aid) AS person, ev.t, ev.r,
       CASE ev.event {steps_case} ELSE NULL END AS step,
       ev.cohort, ev.platform, ev.utm, ev.synth,
       CASE WHEN ev.event = 'credit_purchase' AND ev.revenue IS NOT NULL AND ev.currency IS NOT NULL
            THEN round(CAST(CAST(ev.revenue AS VARCHAR) AS DECIMAL(38, 8))
                       * CASE WHEN upper(ev.currency) IN ({sql_list(EXP0)}) THEN 1
                              WHEN upper(ev.currency) IN ({sql_list(EXP3)}) THEN 1000
                              WHEN upper(ev.currency) IN ({sql_list(EXP4)}) THEN 10000
                              ELSE 100 END)::BIGINT
       END AS minor,
       CASE WHEN ev.event = 'credit_purchase' THEN ev.currency END AS currency
FROM ev LEFT JOIN stitch s ON ev.uid IS NULL AND ev.aid = s.aid
"""
    )
    # Persons: flags, platform and cohort of the earliest event, first touch, first purchase.
    con.execute(
        """
CREATE TEMP TABLE persons AS
SELECT person,
       bool_or(synth) AS synthetic,
       bool_and(coalesce(cohort = 'canary', false)) AS canary_only,
       arg_min_null(platform, (t, r)) AS platform,
       arg_min_null(cohort, (t, r)) AS cohort,
       arg_min(utm, (t, r)) AS first_touch,
       min(t) FILTER (WHERE step = 4) AS first_purchase
FROM pe GROUP BY person
"""
    )
    con.execute(
        """
CREATE TEMP TABLE last_touch AS
SELECT pe.person, arg_max(pe.utm, (pe.t, pe.r)) AS last_touch
FROM pe JOIN persons p ON pe.person = p.person
WHERE p.first_purchase IS NOT NULL AND pe.t <= p.first_purchase
GROUP BY pe.person
"""
    )
    # Step events in (person, ts, step, file) order; for each, the position of the next
    # event of every later step; a chain is four lookups on those positions.
    con.execute(
        """
CREATE TEMP TABLE st AS
SELECT person, t, step,
       row_number() OVER (ORDER BY person, t, step, r) AS pos
FROM pe WHERE step IS NOT NULL
"""
    )
    nxt = ",\n".join(
        f"min(CASE WHEN step = {k} THEN pos END) OVER w AS n{k}" for k in range(1, 5)
    )
    con.execute(
        f"""
CREATE TEMP TABLE nx AS
SELECT person, pos, t, step, {nxt}
FROM st
WINDOW w AS (PARTITION BY person ORDER BY pos ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
"""
    )
    con.execute(
        f"""
CREATE TEMP TABLE chains AS
WITH c AS (
  SELECT v.person, v.pos AS vpos, v.t AS t0,
         CASE WHEN a.t <= v.t + {WINDOW_MS} THEN a.t END AS t1,
         CASE WHEN a.t <= v.t + {WINDOW_MS} AND b.t <= v.t + {WINDOW_MS} THEN b.t END AS t2,
         CASE WHEN a.t <= v.t + {WINDOW_MS} AND b.t <= v.t + {WINDOW_MS}
               AND c.t <= v.t + {WINDOW_MS} THEN c.t END AS t3,
         CASE WHEN a.t <= v.t + {WINDOW_MS} AND b.t <= v.t + {WINDOW_MS}
               AND c.t <= v.t + {WINDOW_MS} AND d.t <= v.t + {WINDOW_MS} THEN d.t END AS t4
  FROM nx v
  LEFT JOIN nx a ON a.pos = v.n1
  LEFT JOIN nx b ON b.pos = a.n2
  LEFT JOIN nx c ON c.pos = b.n3
  LEFT JOIN nx d ON d.pos = c.n4
  WHERE v.step = 0
)
SELECT person,
       arg_min({{'d': CASE WHEN t4 IS NOT NULL THEN 4 WHEN t3 IS NOT NULL THEN 3
                         WHEN t2 IS NOT NULL THEN 2 WHEN t1 IS NOT NULL THEN 1 ELSE 0 END,
                 't0': t0, 't1': t1, 't2': t2, 't3': t3, 't4': t4}},
               ((t4 IS NULL)::INT + (t3 IS NULL)::INT + (t2 IS NULL)::INT + (t1 IS NULL)::INT,
                vpos)) AS best
FROM c GROUP BY person
"""
    )
    con.execute(
        """
CREATE TEMP TABLE pp AS
SELECT p.*, (p.synthetic OR p.canary_only) AS excluded,
       coalesce(ch.best.d, -1) AS furthest,
       ch.best.t1 - ch.best.t0 AS dt1, ch.best.t2 - ch.best.t1 AS dt2,
       ch.best.t3 - ch.best.t2 AS dt3, ch.best.t4 - ch.best.t3 AS dt4,
       lt.last_touch
FROM persons p
LEFT JOIN chains ch ON ch.person = p.person
LEFT JOIN last_touch lt ON lt.person = p.person
"""
    )
    out = {"duplicates_dropped": duplicates}
    total, synthetic, canary_only, included = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE synthetic), count(*) FILTER (WHERE canary_only AND NOT synthetic),"
        " count(*) FILTER (WHERE NOT excluded) FROM pp"
    ).fetchone()
    out["persons"] = {
        "total": total,
        "synthetic": synthetic,
        "canary_only": canary_only,
        "included": included,
    }
    out["stitched_anonymous_ids"] = con.execute("SELECT count(*) FROM stitch").fetchone()[0]

    def funnel(where: str) -> dict:
        def steps(group: str):
            rows = con.execute(
                f"""
SELECT {group} AS g, count(*) AS persons,
       {", ".join(f"count(*) FILTER (WHERE furthest >= {k})" for k in range(5))},
       {", ".join(f"median(dt{k} / 1000.0) FILTER (WHERE furthest >= {k})" for k in range(1, 5))}
FROM pp WHERE {where} GROUP BY ALL ORDER BY g NULLS LAST
"""
            ).fetchall()
            return {
                ("null" if r[0] is None else str(r[0])): {
                    "persons": r[1],
                    "steps": list(r[2:7]),
                    "median_s": [None] + [None if m is None else round(m, 4) for m in r[7:11]],
                }
                for r in rows
            }

        f = steps("'all'").get("all", {"persons": 0, "steps": [0] * 5, "median_s": [None] * 5})
        # The report gives no person count per group: the steps say it all.
        f["by_platform"] = {k: {**v, "persons": None} for k, v in steps("platform").items()}
        f["by_cohort"] = {k: {**v, "persons": None} for k, v in steps("cohort").items()}
        return f

    out["funnel"] = funnel("NOT excluded")
    out["funnel_without_exclusion"] = funnel("true")
    revenue = con.execute(
        """
SELECT pe.currency, sum(pe.minor) FROM pe JOIN pp ON pe.person = pp.person
WHERE NOT pp.excluded AND pe.minor IS NOT NULL GROUP BY 1 ORDER BY 1
"""
    ).fetchall()
    out["revenue_minor"] = {c: int(v) for c, v in revenue}

    def attribution(column: str, who: str) -> dict:
        persons = con.execute(
            f"""
SELECT coalesce({column}, '(direct)') AS s, count(*),
       count(*) FILTER (WHERE first_purchase IS NOT NULL)
FROM pp WHERE NOT excluded AND {who}
GROUP BY 1 ORDER BY 1
"""
        ).fetchall()
        money = con.execute(
            f"""
SELECT coalesce(pp.{column}, '(direct)'), pe.currency, sum(pe.minor)
FROM pe JOIN pp ON pe.person = pp.person
WHERE NOT pp.excluded AND pe.minor IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
"""
        ).fetchall()
        res = {s: {"persons": n, "conversions": c, "revenue_minor": {}} for s, n, c in persons}
        for s, cur, v in money:
            res.setdefault(s, {"persons": 0, "conversions": 0, "revenue_minor": {}})
            res[s]["revenue_minor"][cur] = int(v)
        return res

    # First touch covers every included person, last touch the paying ones.
    out["first_touch"] = attribution("first_touch", "true")
    out["last_touch"] = attribution("last_touch", "first_purchase IS NOT NULL")
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
