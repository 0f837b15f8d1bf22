#!/usr/bin/env python3
"""Turns the rows the bench scripts print into the table of `make bench`.

Input rows (CSV, no header): section,case,value,unit,reference,ref_value,goal
  - value/ref_value is the ratio when a reference was measured in the
    same run; the goal (">=0.7", "<=1.2", ...) applies to the ratio when
    there is a reference and to the value otherwise.
Writes OUT/results.csv (the rows with ratio and verdict) and, when
matplotlib is there, OUT/results.png (each goal as a bar: 1.0 = the goal
just met). Prints the table on stdout.

usage: report.py ROWS.csv OUTDIR
"""
import csv
import os
import sys

SECTIONS = {
    "core": "Core only (two stacks in one process, in-memory links)",
    "scale": "Scale (one stack, in-memory links)",
    "bulk": "Bulk transfer over each backend",
    "link": "The links' own limits",
    "latency": "Request/response latency",
}


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def verdict(row):
    """(measure the goal applies to, 'met' / 'short by N%' / '')."""
    value, ref = number(row["value"]), number(row["ref_value"])
    goal = row["goal"].strip()
    subject = value
    if row["reference"] and ref:
        subject = value / ref if value is not None else None
    if not goal:
        return subject, ""
    if subject is None:
        return None, "not measured"
    op, target = goal[:2], number(goal[2:])
    if op not in (">=", "<=") or target is None:
        return subject, "bad goal " + goal
    if op == ">=":
        if subject >= target:
            return subject, "met"
        return subject, "short by %.0f%%" % (100 * (target - subject) / target)
    if subject <= target:
        return subject, "met"
    return subject, "over by %.0f%%" % (100 * (subject - target) / target)


def fmt(x):
    if x is None:
        return "NA"
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return "%.2f" % x


def main():
    rows_path, out = sys.argv[1], sys.argv[2]
    names = ["section", "case", "value", "unit", "reference", "ref_value", "goal"]
    rows = []
    with open(rows_path, newline="") as f:
        for rec in csv.reader(f):
            if len(rec) != len(names) or rec[0] not in SECTIONS:
                continue  # not a result row (a tool's stray line)
            rows.append(dict(zip(names, rec)))
    for r in rows:
        r["subject"], r["verdict"] = verdict(r)
        ref = number(r["ref_value"])
        val = number(r["value"])
        r["ratio"] = val / ref if (r["reference"] and ref and val is not None) else None

    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names + ["ratio", "verdict"])
        for r in rows:
            w.writerow([r[n] for n in names] +
                       ["" if r["ratio"] is None else "%.3f" % r["ratio"], r["verdict"]])

    for sec, title in SECTIONS.items():
        mine = [r for r in rows if r["section"] == sec]
        if not mine:
            continue
        print("\n" + title)
        width = max(len(r["case"]) for r in mine)
        for r in mine:
            val = number(r["value"])
            line = "  %-*s %10s %-10s" % (width, r["case"], fmt(val), r["unit"])
            if r["reference"]:
                line += "  vs %s %s: x%s" % (r["reference"], fmt(number(r["ref_value"])),
                                             fmt(r["ratio"]))
            if r["goal"]:
                line += "  [goal %s: %s]" % (r["goal"], r["verdict"])
            print(line)

    goals = [r for r in rows if r["goal"] and r["subject"] is not None]
    met = sum(1 for r in goals if r["verdict"] == "met")
    print("\ngoals met: %d of %d" % (met, len([r for r in rows if r["goal"]])))
    chart(goals, os.path.join(out, "results.png"))
    print("table: %s" % os.path.join(out, "results.csv"))


def chart(goals, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no chart: matplotlib is not installed; `bash ci/deps.sh bench`)")
        return
    labels, scores, colours = [], [], []
    for r in goals:
        target = number(r["goal"][2:])
        # 1.0 means the goal is just met; above 1 is better either way.
        if r["goal"].startswith(">="):
            score = r["subject"] / target if target else 0
        else:
            score = target / r["subject"] if r["subject"] else 0
        labels.append(r["case"])
        scores.append(score)
        colours.append("#2a7" if score >= 1 else "#d63")
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(goals) + 1.2))
    ax.barh(range(len(goals)), scores, color=colours)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(goals)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("measured / goal (1.0 = goal met; higher is better)")
    ax.set_title("weir: make bench")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print("chart: %s" % path)


if __name__ == "__main__":
    main()
