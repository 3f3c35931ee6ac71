#!/usr/bin/env python3
"""hci-bench's report: one or more result files (from one machine or several) into one HTML page
with its plots inlined as PNG.

  python3 tools/hci_bench_report.py RESULTS.json... [-o report.html] [--figures DIR]
  python3 tools/hci_bench_report.py --check RESULTS.json...   (validates against the schema only)

Each file is checked against tools/hci_bench_schema.json first. The plots: achieved bandwidth per
memory-bound case against each device's measured roofline, GFLOP/s against matrix size, fused
against unfused chains, JIT compile latency, and every device present side by side as a fraction
of its own roofline. Needs matplotlib and jsonschema (Debian: python3-matplotlib,
python3-jsonschema)."""
import argparse
import base64
import html
import io
import json
import os
import re
import sys
from collections import defaultdict

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hci_bench_schema.json")
SECONDS_PER_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
MEMORY_FAMILIES = ("elementwise", "reduction", "rows")


def problems(results):
    """What makes `results` fail the schema, one line each (none when it is valid)."""
    try:
        import jsonschema
    except ImportError:
        raise SystemExit("the report needs jsonschema (Debian: python3-jsonschema, for /usr/bin/python3)")

    with open(SCHEMA) as f:
        validator = jsonschema.Draft7Validator(json.load(f))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(results), key=lambda e: list(map(str, e.absolute_path)))]


def load(path):
    try:
        with open(path) as f:
            results = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: not readable as JSON: {e}")
    found = problems(results)
    if found:
        raise SystemExit(f"{path} does not match {os.path.basename(SCHEMA)}:\n  " + "\n  ".join(found[:20]))
    return results


class Result:
    """One case of one run: DEVICE/FAMILY/CASE/SIZE/IMPL and what it measured."""

    def __init__(self, machine_label, bench):
        parts = bench["name"].split("/")
        self.device, self.family, self.case, self.size, self.impl = parts[0], parts[1], parts[2], int(parts[3]), parts[4]
        self.series = f"{machine_label} {self.device}"
        self.error = bench.get("error_message", "failed") if bench.get("error_occurred") else None
        self.seconds = bench["real_time"] * SECONDS_PER_UNIT[bench["time_unit"]]
        self.bandwidth = bench.get("bytes_per_second")
        self.flops = bench.get("items_per_second")
        self.joules = bench.get("joules_per_iter")

    def key(self):
        return (self.series, self.family, self.case, self.size)

    def metric(self):
        """The case's figure of merit and its unit: GB/s, GFLOP/s, or its time."""
        if self.flops:
            return self.flops / 1e9, "GFLOP/s"
        if self.bandwidth:
            return self.bandwidth / 1e9, "GB/s"
        return self.seconds * 1e6, "us"


def read_all(paths):
    machines, results, rooflines, names = [], [], {}, {}
    files = [(path, load(path)) for path in paths]
    hostnames = [data["machine"]["hostname"] for _, data in files]
    for path, data in files:
        machine = data["machine"]
        label = machine["hostname"]
        if hostnames.count(label) > 1:  # several runs under one hostname: tell them apart by file
            label = os.path.splitext(os.path.basename(path))[0]
        machines.append((label, machine))
        for d in machine["devices"]:
            rooflines[f"{label} {d['device']}"] = d["bandwidth_bytes_per_second"]
            names[f"{label} {d['device']}"] = d["name"]
        results += [Result(label, b) for b in data["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
    return machines, results, rooflines, names


def natural(key):
    """Sorts chain4 before chain16: the numbers in names as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", "/".join(map(str, key)))]


def figure_png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def ok(results):
    return [r for r in results if not r.error]


def series_of(results):
    return sorted({r.series for r in results})


def hci_first(impl):
    """Sort key of implementations: hci's own runs before the references."""
    return (impl != "hci", impl)


def per_series(plt, results, height):
    """One plot per series, side by side: the figure and (axes, series, that series' results) for
    each, or (None, []) where there are no results."""
    all_series = series_of(results)
    if not all_series:
        return None, []
    fig, axes = plt.subplots(1, len(all_series), figsize=(5.5 * len(all_series), height), squeeze=False)
    return fig, [(ax, series, [r for r in results if r.series == series]) for ax, series in zip(axes[0], all_series)]


def short(series, names):
    """A series' label: machine, device and the device's name, shortened."""
    name = names.get(series, "").split(",")[0][:32]
    return f"{series} ({name})" if name else series


def plot_bandwidth(plt, results, rooflines, names):
    """Each memory-bound case's achieved bandwidth, hci beside its reference, against the roofline."""
    memory = [r for r in ok(results) if r.family in MEMORY_FAMILIES and r.bandwidth]
    all_series = series_of(memory)
    if not all_series:
        return None
    fig, axes = plt.subplots(len(all_series), 1, figsize=(10, 0.9 + 0.32 * 22 * len(all_series) / 2), squeeze=False)
    for ax, series in zip(axes[:, 0], all_series):
        mine = [r for r in memory if r.series == series]
        largest = {}
        for r in mine:  # the largest size of each case: the one that measures memory, not caches
            k = (r.family, r.case)
            largest[k] = max(largest.get(k, 0), r.size)
        cases = sorted(largest, key=natural)
        impls = sorted({r.impl for r in mine}, key=hci_first)
        height = 0.8 / max(len(impls), 1)
        for i, impl in enumerate(impls):
            values = [next((r.bandwidth / 1e9 for r in mine if (r.family, r.case) == c and r.size == largest[c]
                            and r.impl == impl), 0) for c in cases]
            ax.barh([y + i * height for y in range(len(cases))], values, height=height, label=impl)
        roof = rooflines.get(series, 0)
        if roof:
            ax.axvline(roof / 1e9, color="black", linestyle="--", linewidth=1, label=f"measured roofline {roof / 1e9:.0f} GB/s")
        ax.set_yticks([y + height * (len(impls) - 1) / 2 for y in range(len(cases))])
        ax.set_yticklabels([f"{f}/{c} ({largest[(f, c)]:,})" for f, c in cases], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("GB/s (bytes the operation must move, per second)")
        ax.set_title(f"Achieved bandwidth: {short(series, names)}", fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_matmul(plt, results, names):
    fig, plots = per_series(plt, [r for r in ok(results) if r.family == "matmul" and r.flops], 4.2)
    if fig is None:
        return None
    for ax, series, mine in plots:
        for dtype in sorted({r.case for r in mine}):
            for impl in sorted({r.impl for r in mine if r.case == dtype}, key=hci_first):
                points = sorted((r.size, r.flops / 1e9) for r in mine if r.case == dtype and r.impl == impl)
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                        linestyle="-" if impl == "hci" else "--", label=f"{dtype} {impl}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n (n x n times n x n)")
        ax.set_ylabel("GFLOP/s")
        ax.set_title(f"{short(series, names)}\nmatrix products", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def plot_fusion(plt, results, rooflines, names):
    chains = [r for r in ok(results) if r.family == "elementwise" and r.case.startswith("chain") and r.bandwidth]
    fig, plots = per_series(plt, chains, 4)
    if fig is None:
        return None
    for ax, series, mine in plots:
        size = max(r.size for r in mine)
        for impl in sorted({r.impl for r in mine}, key=hci_first):
            points = sorted((int(r.case[5:]), r.bandwidth / 1e9) for r in mine if r.size == size and r.impl == impl)
            if impl == "hci-unfused":  # one op is the same fused or not
                points = sorted(points + [(int(r.case[5:]), r.bandwidth / 1e9) for r in mine
                                          if r.size == size and r.impl == "hci" and r.case == "chain1"])
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=impl)
        roof = rooflines.get(series, 0)
        if roof:
            ax.axhline(roof / 1e9, color="black", linestyle="--", linewidth=1, label="measured roofline")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("ops in the chain (alternating * and +)")
        ax.set_ylabel("GB/s (one read and one write per element)")
        ax.set_title(f"{short(series, names)}\nfused against unfused, {size:,} float32", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_compile(plt, results, names):
    latency = [r for r in ok(results) if r.family == "jit"]
    if not latency:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    groups = sorted({(r.series, r.case) for r in latency})
    lengths = sorted({r.size for r in latency})
    width = 0.8 / len(groups)
    for i, (series, case) in enumerate(groups):
        values = [next((r.seconds * 1e3 for r in latency if (r.series, r.case, r.size) == (series, case, n)), 0)
                  for n in lengths]
        ax.bar([x + i * width for x in range(len(lengths))], values, width=width, label=f"{case}: {series}")
    ax.set_xticks([x + width * (len(groups) - 1) / 2 for x in range(len(lengths))])
    ax.set_xticklabels([f"chain of {n}" for n in lengths])
    ax.set_yscale("log")
    ax.set_ylabel("ms to have the kernel, running it included")
    ax.set_title("JIT latency: compiled from nothing, and loaded from the disk cache", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def plot_side_by_side(plt, results, rooflines, names):
    """hci's bandwidth on each device as a fraction of that device's roofline: vendors compared."""
    memory = [r for r in ok(results) if r.impl == "hci" and r.family in MEMORY_FAMILIES and r.bandwidth
              and rooflines.get(r.series)]
    all_series = series_of(memory)
    if not all_series:
        return None
    largest = {}
    for r in memory:
        largest[(r.series, r.family, r.case)] = max(largest.get((r.series, r.family, r.case), 0), r.size)
    cases = sorted({(r.family, r.case) for r in memory}, key=natural)
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(cases) * len(all_series)), 4.2))
    width = 0.8 / len(all_series)
    for i, series in enumerate(all_series):
        values = [next((r.bandwidth / rooflines[series] for r in memory if r.series == series
                        and (r.family, r.case) == c and r.size == largest.get((series,) + c)), 0) for c in cases]
        ax.bar([x + i * width for x in range(len(cases))], values, width=width, label=short(series, names))
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_xticks([x + width * (len(all_series) - 1) / 2 for x in range(len(cases))])
    ax.set_xticklabels([f"{f}/{c}" for f, c in cases], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("fraction of the device's measured roofline")
    ax.set_title("Devices side by side: hci at the largest size of each case", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def comparison_rows(results):
    """hci against its reference for each case: (case, hci, reference name, reference, ratio, joules)."""
    by_key = defaultdict(dict)
    for r in ok(results):
        by_key[r.key()][r.impl] = r
    rows = []
    for key in sorted(by_key, key=natural):
        impls = by_key[key]
        for variant in ("hci", "hci-unfused"):
            if variant not in impls:
                continue
            mine = impls[variant]
            value, unit = mine.metric()
            references = [i for i in impls if not i.startswith("hci")] or [None]
            for ref in references:
                ref_value = impls[ref].metric()[0] if ref else None
                ratio = (value / ref_value if unit != "us" else ref_value / value) if ref_value else None
                rows.append(("/".join([key[0], key[1], key[2], str(key[3]), variant]), value, unit, ref,
                             ref_value, ratio, mine.joules))
    return rows


def machine_table(label, m):
    rows = [("date", m["date"]), ("CPU", f"{m['cpu']['model']}: {m['cpu']['cores']} cores, "
                                         f"{m['cpu']['logical_cpus']} logical CPUs, hci threads {m['cpu']['threads']}"),
            ("memory", f"{m['memory_bytes'] / 2**30:.1f} GiB"), ("hci", m["hci_version"] + (" (--quick)" if m["quick"] else "")),
            ("LLVM", m["llvm"]), ("BLAS", m["blas"]), ("CUDA driver", m["cuda_driver"]), ("HIP runtime", m["hip_runtime"])]
    rows += [(d["device"], f"{d['name']}; measured bandwidth {d['bandwidth_bytes_per_second'] / 1e9:.1f} GB/s "
                           f"({d['bandwidth_method']}); energy: {d['energy']}") for d in m["devices"]]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<h3>{html.escape(label)}</h3><table class='machine'>{body}</table>"


def render(paths, output, figures_dir):
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("the report needs matplotlib (Debian: python3-matplotlib, for /usr/bin/python3)")

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    machines, results, rooflines, names = read_all(paths)
    figures = [("bandwidth", "Achieved bandwidth against the measured roofline", plot_bandwidth(plt, results, rooflines, names)),
               ("matmul", "GFLOP/s against matrix size", plot_matmul(plt, results, names)),
               ("fusion", "Fused against unfused chains", plot_fusion(plt, results, rooflines, names)),
               ("compile", "JIT compile latency", plot_compile(plt, results, names)),
               ("side_by_side", "Devices side by side", plot_side_by_side(plt, results, rooflines, names))]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>hci-bench report</title><style>",
             "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}",
             "table{border-collapse:collapse;font-size:13px;margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 6px}",
             "th{text-align:left;background:#f4f4f4}td.n{text-align:right}img{max-width:100%}</style></head><body>",
             f"<h1>hci-bench report</h1><p>{len(paths)} result file(s), {len(results)} cases.</p><h2>Machines</h2>"]
    parts += [machine_table(label, m) for label, m in machines]
    if figures_dir:
        os.makedirs(figures_dir, exist_ok=True)
    for name, title, fig in figures:
        if fig is None:
            continue
        png = figure_png(fig)
        plt.close(fig)
        if figures_dir:
            with open(os.path.join(figures_dir, f"hci_bench_{name}.png"), "wb") as f:
                f.write(png)
        parts.append(f"<h2>{title}</h2><img alt='{title}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    parts.append("<h2>hci against its reference</h2><p>Ratio: hci's figure over the reference's "
                 "(above 1 is faster than the reference; for latencies, the reference's time over hci's).</p>"
                 "<table><tr><th>case</th><th>hci</th><th>reference</th><th>reference's</th><th>ratio</th>"
                 "<th>J per op</th></tr>")
    for case, value, unit, ref, ref_value, ratio, joules in comparison_rows(results):
        parts.append(f"<tr><td>{html.escape(case)}</td><td class=n>{value:.4g} {unit}</td><td>{html.escape(ref or '-')}</td>"
                     f"<td class=n>{'' if ref_value is None else f'{ref_value:.4g} {unit}'}</td>"
                     f"<td class=n>{'' if ratio is None else f'{ratio:.2f}'}</td>"
                     f"<td class=n>{'' if joules is None else f'{joules:.3g}'}</td></tr>")
    parts.append("</table>")
    skipped = [r for r in results if r.error]
    if skipped:
        parts.append("<h2>Skipped</h2><ul>" + "".join(
            f"<li>{html.escape(r.series)} {html.escape('/'.join([r.family, r.case, str(r.size), r.impl]))}: "
            f"{html.escape(r.error)}</li>" for r in skipped) + "</ul>")
    parts.append("</body></html>")
    with open(output, "w") as f:
        f.write("\n".join(parts))
    print(f"{output}: {len(machines)} machine(s), {len(results)} cases, {len(skipped)} skipped, "
          f"{sum(f is not None for _, _, f in figures)} plots")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="hci-bench JSON files")
    parser.add_argument("-o", "--output", default="hci-bench-report.html")
    parser.add_argument("--figures", help="also write each plot as a PNG file in this directory")
    parser.add_argument("--check", action="store_true", help="only validate the files against the schema")
    args = parser.parse_args()
    if args.check:
        for path in args.results:
            load(path)
            print(f"{path}: valid")
        return
    render(args.results, args.output, args.figures)


if __name__ == "__main__":
    sys.exit(main())
