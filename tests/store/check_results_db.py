"""Reads an epalm results database with Python's standard sqlite3 module only
(the file is the interface) and recomputes every run's metric summaries from
the metric history, independently of epalm. Prints a JSON report.

    check_results_db.py RESULTS.sqlite
"""
import json
import sqlite3
import sys


def main(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    report = {
        "user_version": db.execute("PRAGMA user_version").fetchone()[0],
        "application_id": db.execute("PRAGMA application_id").fetchone()[0],
        "runs": db.execute("SELECT count(*) FROM runs").fetchone()[0],
        "distinct_run_ids": db.execute("SELECT count(DISTINCT id) FROM runs").fetchone()[0],
        "metric_rows": db.execute("SELECT count(*) FROM metrics").fetchone()[0],
        "duplicate_points": db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM metrics GROUP BY run_id, key_id, step HAVING count(*) > 1)"
        ).fetchone()[0],
        "statuses": dict(db.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()),
    }
    goals = dict(db.execute("SELECT id, goal FROM metric_keys").fetchall())
    history = {}
    for run_id, key_id, step, value in db.execute("SELECT run_id, key_id, step, value FROM metrics"):
        history.setdefault((run_id, key_id), []).append((step, value))
    summaries = {
        (r, k): (last, last_step, mn, mx, best, best_step, n)
        for r, k, last, last_step, mn, mx, best, best_step, n in db.execute(
            "SELECT run_id, key_id, last, last_step, min, max, best, best_step, n FROM run_summary")
    }
    mismatches = []
    for (run_id, key_id), points in history.items():
        points.sort()
        values = [v for _, v in points]
        if goals[key_id] == "max":
            best_step, best = min(points, key=lambda p: (-p[1], p[0]))
        else:
            best_step, best = min(points, key=lambda p: (p[1], p[0]))
        expected = (points[-1][1], points[-1][0], min(values), max(values), best, best_step, len(points))
        if summaries.get((run_id, key_id)) != expected:
            mismatches.append({"run": run_id, "key": key_id, "stored": summaries.get((run_id, key_id)),
                               "recomputed": expected})
    report["summaries_checked"] = len(history)
    report["summary_rows"] = len(summaries)
    report["summary_mismatches"] = mismatches[:5]
    report["summary_mismatch_count"] = len(mismatches)
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
