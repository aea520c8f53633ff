"""Regenerate the figures table of docs/BENCHMARKS.md from bench/results.json.

The table sits between the `<!-- bench:begin -->` and `<!-- bench:end -->`
lines; the rest of the page is left as written. Run as `python -m bench.table`.
"""

import json
import os
import tempfile

from bench.machine import BENCH_DIR, RESULTS

PAGE = BENCH_DIR.parent / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def target_rows(r: dict) -> list[tuple[str, str, str, bool]]:
    """Return (target, measured, goal, met) for every target with a recorded figure."""
    rows = []
    if "mnist_epoch" in r:
        m = r["mnist_epoch"]
        for n, fit in m["fit"].items():
            rows.append((f"1. dnn-3 epoch vs common pipeline, fit with {n} thread(s), training",
                         f"{fit['speedup_train']:.1f}x ({m['common_s']:.2f}s vs {fit['train_s']:.2f}s)",
                         ">= 6x", fit["speedup_train"] >= 6))
            rows.append((f"1. same, fit epoch with its evaluation on 70,000 images",
                         f"{fit['speedup_with_eval']:.1f}x ({fit['epoch_with_eval_s']:.2f}s; "
                         f"evaluation {fit['eval_share']:.0%} of it)", ">= 6x",
                         fit["speedup_with_eval"] >= 6))
    if "flops" in r:
        f = r["flops"]
        rows.append(("2. random-labels-mlp training FLOP/s / fp32 matmul peak",
                     f"{f['fraction']:.0%} ({f['train_gflops']:.1f} / {f['peak_gflops']:.1f} GFLOP/s)",
                     ">= 60%", f["fraction"] >= 0.6))
    if "report_time" in r:
        t = r["report_time"]
        rows.append(("3. unchanged rerun of `make report`", f"{t['noop_s']:.1f}s", "<= 30s", t["noop_s"] <= 30))
        rows.append(("3. every notebook re-executed, runs from the cache",
                     f"{t['cached_s']:.1f}s", "<= 30s", t["cached_s"] <= 30))
        if "cold_s" in t:
            done = t["cold_rendered"]
            complete = len(done) == len(t["notebooks"])
            rows.append((f"5. quick report from scratch, `make -j{t['jobs']}`",
                         f"{t['cold_s']:.0f}s ({len(done)} of {len(t['notebooks'])} notebooks "
                         f"rendered: {', '.join(done) or 'none'})", "<= 600s",
                         complete and t["cold_s"] <= 600))
    return rows


def machine_rows(r: dict) -> list[str]:
    """Return one line per benchmark: its command, date, load and threads."""
    lines = []
    for name, section in r.items():
        m = section["machine"]
        load = ", ".join(str(x) for x in m["load_average"])
        env = "".join(f"{k}={v} " for k, v in m.get("omp_env", {}).items())
        lines.append(f"| {name} | `{env}{section['command']}` | {m['date']} | {load} | "
                     f"{m['torch_threads']} |")
    return lines


def render(r: dict) -> str:
    """Return the Markdown block that goes between the markers."""
    first = next(iter(r.values()))["machine"]
    lines = [BEGIN, f"Machine: {first['nproc']} cores, {first['cpu_model']}, torch {first['torch']}.", "",
             "| target | measured | goal | met |", "|---|---|---|---|"]
    lines += [f"| {t} | {m} | {g} | {'yes' if ok else 'no'} |" for t, m, g, ok in target_rows(r)]
    if "threads" in r:
        lines += ["", f"dnn-3 training epoch on {r['threads']['samples']:,} images, by OpenMP setting:", "",
                  "| setting | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in r["threads"]["train_s"].items()]
    if "ensemble" in r:
        lines += ["", f"{r['ensemble']['seeds']} seeds trained one by one with `fit` and together "
                  "with `hwlib.ensemble`:", "",
                  "| case | one by one (s) | ensemble (s) | speedup |", "|---|---|---|---|"]
        lines += [f"| {k} | {c['one_by_one_s']:.1f} | {c['ensemble_s']:.1f} | {c['speedup']:.1f}x |"
                  for k, c in r["ensemble"]["cases"].items()]
    if "compile" in r:
        lines += ["", f"Training epochs on {r['compile']['samples']:,} images, eager and compiled "
                  "(the first compiled epoch includes the compilation, or loading it from inductor's disk cache):", "",
                  "| model | epoch 1, 2, 3 (s) |", "|---|---|"]
        lines += [f"| {k} | {', '.join(f'{t:.2f}' for t in v)} |"
                  for k, v in r["compile"]["epochs_s"].items()]
    lines += ["", "| benchmark | command | recorded | load average when recorded (1, 5, 15 min) | default torch threads |",
              "|---|---|---|---|---|", *machine_rows(r), END]
    return "\n".join(lines)


def main() -> None:
    """Replace the block between the markers of docs/BENCHMARKS.md, atomically."""
    results = json.loads(RESULTS.read_text())
    page = PAGE.read_text()
    if BEGIN not in page or END not in page:
        raise SystemExit(f"error: {PAGE} lacks the {BEGIN} and {END} lines; add them where the table goes")
    head, rest = page.split(BEGIN, 1)
    text = head + render(results) + rest.split(END, 1)[1]
    with tempfile.NamedTemporaryFile("w", dir=PAGE.parent, prefix=".BENCHMARKS.", delete=False) as tmp:
        tmp.write(text)
    os.replace(tmp.name, PAGE)


if __name__ == "__main__":
    main()
