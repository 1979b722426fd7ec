"""Recomputes an `epalm runs compare --format json` export from the SQLite file alone.

usage: compare_peer.py DB EXPORT.json [--experiment E] [--sweep S]

Reads the runs straight from the results database with Python's sqlite3 (metric
summaries recomputed from the raw history, not read from run_summary), groups
them into the export's cells, and checks every number: mean and sample std
(numpy), Welch's p-value (scipy.stats.ttest_ind(equal_var=False)) and the
bootstrap p-value (numpy on the same resamples, drawn with SplitMix64 restated
here). Prints a JSON report; "mismatches" lists every disagreement.
"""
import json
import sqlite3
import sys

import numpy as np
from scipy import stats

EPS = np.finfo(np.float64).eps
MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return (self.next() * n) >> 64


def same_setting(a, b):
    """Setting values as the store canonicalises them: numbers by value, true/false any case."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return float(a) == float(b)
    except ValueError:
        pass
    if a.lower() in ("true", "false") and b.lower() in ("true", "false"):
        return a.lower() == b.lower()
    return a == b


def load(db, experiment, sweep):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    sql = ("SELECT r.id, r.seed, r.started FROM runs r JOIN experiments e ON e.id = r.experiment_id "
           "LEFT JOIN sweeps s ON s.id = r.sweep_id WHERE r.status = 'finished'")
    args = []
    if experiment:
        sql += " AND e.name = ?"
        args.append(experiment)
    if sweep:
        sql += " AND s.name = ?"
        args.append(sweep)
    runs = {rid: {"id": rid, "seed": seed, "started": started, "params": {}, "metrics": {}, "scores": {}}
            for rid, seed, started in con.execute(sql, args)}
    for rid, key, value in con.execute("SELECT run_id, key, value_text FROM params"):
        if rid in runs:
            runs[rid]["params"][key] = value
    history = {}
    for rid, name, goal, step, value in con.execute(
            "SELECT m.run_id, k.name, k.goal, m.step, m.value FROM metrics m JOIN metric_keys k ON k.id = m.key_id"):
        if rid in runs:
            history.setdefault((rid, name, goal), []).append((step, value))
    for (rid, name, goal), points in history.items():
        points.sort()
        values = [v for _, v in points]
        runs[rid]["metrics"][name] = {"last": values[-1], "min": min(values), "max": max(values),
                                      "best": min(values) if goal == "min" else max(values), "n": len(values)}
    for rid, split, metric, value in con.execute("SELECT run_id, split, metric, value FROM scores"):
        if rid in runs:
            runs[rid]["scores"][split + "." + metric] = value
    return list(runs.values())


def field_value(run, field):
    if field.startswith("score."):
        return run["scores"].get(field[len("score."):])
    if field.startswith("metric."):
        key, summary = field[len("metric."):].rsplit(".", 1)
        m = run["metrics"].get(key)
        return None if m is None else m[summary]
    raise ValueError(field)


def cell_values(runs, field):
    """One value per seed (the newest run's), by seed; seedless runs after, by id."""
    by_seed, seedless = {}, []
    for r in runs:
        v = field_value(r, field)
        if v is None:
            continue
        if r["seed"] is None:
            seedless.append((r["id"], v))
            continue
        kept = by_seed.get(r["seed"])
        if kept is None or (r["started"], r["id"]) > (kept[0]["started"], kept[0]["id"]):
            by_seed[r["seed"]] = (r, v)
    seeds = sorted(by_seed)
    return ([by_seed[s][1] for s in seeds] + [v for _, v in sorted(seedless)],
            seeds + [None] * len(seedless))


def bootstrap(a, b, paired, resamples, seed):
    """The C++ test's resamples, the statistic in numpy; also how many resamples lie
    so near the threshold that summation order (a few ulps) could flip them."""
    g = SplitMix64(seed)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if paired:
        d = a - b
        idx = np.array([[g.below(len(d)) for _ in range(len(d))] for _ in range(resamples)], dtype=np.int64)
        stat = d[idx].mean(axis=1)
        observed = d.mean()
        scale = np.abs(d).max()
    else:
        ia, ib = [], []
        for _ in range(resamples):
            ia.append([g.below(len(a)) for _ in range(len(a))])
            ib.append([g.below(len(b)) for _ in range(len(b))])
        stat = a[np.array(ia)].mean(axis=1) - b[np.array(ib)].mean(axis=1)
        observed = a.mean() - b.mean()
        scale = max(np.abs(a).max(), np.abs(b).max())
    margin = np.abs(np.abs(stat - observed) - abs(observed))
    extreme = int(np.sum(np.abs(stat - observed) >= abs(observed)))
    # A mean of n values carries at most ~n ulps of the largest; the threshold test
    # combines four such quantities.
    near = int(np.sum(margin <= 8 * (len(a) + len(b)) * EPS * scale))
    return extreme, near


def main():
    db, export_path = sys.argv[1], sys.argv[2]
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    export = json.load(open(export_path))
    runs = load(db, opts.get("--experiment"), opts.get("--sweep"))
    rows, columns, baseline = export["rows"], export["columns"], export["baseline"]
    resamples, seed = export["bootstrap"]["resamples"], export["bootstrap"]["seed"]
    mismatches, checked = [], {"cells": 0, "welch": 0, "bootstrap": 0, "near_ties": 0}

    def runs_matching(settings):
        def has(r, k, v):
            return k not in r["params"] if v == "(unset)" else same_setting(r["params"].get(k), v)
        return [r for r in runs if all(has(r, k, v) for k, v in settings.items())]

    def close(what, ours, theirs, tolerance):
        if ours is None or theirs is None:
            if ours is not theirs and not (ours is None and theirs is None):
                mismatches.append({"what": what, "epalm": ours, "python": theirs})
            return
        if abs(ours - theirs) > tolerance:
            mismatches.append({"what": what, "epalm": ours, "python": theirs})

    for cell in export["cells"]:
        where = dict(cell["row"], **cell["column"])
        label = json.dumps(where) + " " + cell["value"]
        values, seeds = cell_values(runs_matching(where), cell["value"])
        checked["cells"] += 1
        if len(values) != cell["n"] or seeds != cell["seeds"]:
            mismatches.append({"what": label + " n/seeds", "epalm": [cell["n"], cell["seeds"]], "python": [len(values), seeds]})
            continue
        if not values:
            continue
        v = np.asarray(values)
        scale = np.abs(v).max()
        # Sums of n values: n ulps of the largest, a few more through the squares.
        close(label + " mean", cell["mean"], float(v.mean()), 4 * len(v) * EPS * scale)
        close(label + " std", cell["std"], float(v.std(ddof=1)) if len(v) > 1 else 0.0, 64 * len(v) * EPS * scale)
        if not baseline or cell["baseline"]:
            continue
        base_where = dict(where)
        base_where.update(baseline)
        b_values, b_seeds = cell_values(runs_matching(base_where), cell["value"])
        if not b_values:
            if cell["diff"] is not None:
                mismatches.append({"what": label + " diff without a baseline", "epalm": cell["diff"], "python": None})
            continue
        close(label + " diff", cell["diff"], float(v.mean() - np.mean(b_values)), 8 * (len(v) + len(b_values)) * EPS * max(scale, np.abs(b_values).max()))
        if len(values) >= 2 and len(b_values) >= 2 and (np.var(values) > 0 or np.var(b_values) > 0):
            p = float(stats.ttest_ind(values, b_values, equal_var=False).pvalue)
            # Boost's and scipy's Student t tails are accurate to a few ulps; t itself
            # carries the rounding of two means and variances (~1e-14 relative), and
            # dp/dt * t stays below ~1 over the p-values that occur, hence 1e-9.
            close(label + " p_welch", cell["p_welch"], p, 1e-9 * max(p, 1e-3))
            checked["welch"] += 1
        common = [s for s in seeds if s is not None and s in b_seeds]
        paired = len(common) >= 2
        if paired:
            a = [values[seeds.index(s)] for s in common]
            b = [b_values[b_seeds.index(s)] for s in common]
        else:
            a, b = values, b_values
        if len(a) >= 2 and len(b) >= 2:
            extreme, near = bootstrap(a, b, paired, resamples, seed)
            checked["bootstrap"] += 1
            checked["near_ties"] += near
            if cell["paired"] != paired:
                mismatches.append({"what": label + " paired", "epalm": cell["paired"], "python": paired})
            ours = round(cell["p_bootstrap"] * (resamples + 1)) - 1
            if abs(ours - extreme) > near:
                mismatches.append({"what": label + " p_bootstrap", "epalm": cell["p_bootstrap"],
                                   "python": (extreme + 1) / (resamples + 1), "near_ties": near})
    print(json.dumps({"checked": checked, "mismatches": mismatches, "runs": len(runs)}))


if __name__ == "__main__":
    main()
