#!/usr/bin/env python3
"""Plots `hci-govern --simulate ... --trace FILE.csv`: for each workload, the core clock, the
die temperature and the power over time under the device's default behaviour and under some of
the policies.

usage: hci_govern_plot.py TRACE.csv OUT.png
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402

SHOWN = {  # policy: (colour, line style, width); the default is drawn wide, as others often follow it
    "default": ("0.7", "-", 3.0),
    "thermal-cap": ("tab:orange", "--", 1.1),
    "energy-optimal": ("tab:blue", "-", 1.1),
    "energy-optimal +hints": ("tab:green", ":", 1.3),
}
QUANTITIES = [("core_mhz", "core clock (MHz)"), ("temperature_c", "temperature (C)"), ("power_w", "power (W)")]


def main(trace_path, png_path):
    runs = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # workload, policy, column
    with open(trace_path, newline="") as f:
        for row in csv.DictReader(f):
            if row["policy"] not in SHOWN:
                continue
            run = runs[row["workload"]][row["policy"]]
            for column in ("time_s",) + tuple(q for q, _ in QUANTITIES):
                run[column].append(float(row[column]))
    if not runs:
        sys.exit(f"{trace_path}: no runs of {', '.join(SHOWN)} to plot")
    fig, axes = plt.subplots(len(runs), 3, figsize=(15, 2.6 * len(runs)), squeeze=False)
    for r, (workload, policies) in enumerate(runs.items()):
        for c, (column, label) in enumerate(QUANTITIES):
            ax = axes[r][c]
            for policy, run in policies.items():
                colour, style, width = SHOWN[policy]
                ax.plot(run["time_s"], run[column], style, color=colour, linewidth=width, label=policy)
            ax.set_title(f"{workload}: {label}", fontsize=10)
            ax.grid(alpha=0.3)
            if r == len(runs) - 1:
                ax.set_xlabel("time (s)")
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle("hci-govern --simulate: default behaviour against the policies (simulated device)", fontsize=12)
    fig.tight_layout()
    fig.savefig(png_path, dpi=75)
    print(f"wrote {png_path}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
