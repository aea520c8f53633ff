"""Build report/index.html from the results files, and the report's PDF.

`python -m hwlib.report` writes the index, and `make report` runs it after
rendering the notebooks. `python -m hwlib.report --pdf PROFILE` (run by
`make pdf`) prints the index and that profile's pages with headless Chromium
and merges them with pdfunite into report/hw1-report-PROFILE.pdf.

Every cell of the index comes from a results file: each file's
summary["headline"] holds the question, our result, the reference report's
result and a verdict. A missing file shows as "not run" with the command that
runs it; a failed run shows its error.
"""

import argparse
import datetime as dt
import html
import json
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hwlib.data import REPO_ROOT
from hwlib.results import EXPERIMENT_IDS, build_root as default_build_root

log = logging.getLogger(__name__)

REPORT_ROOT = REPO_ROOT / "report"
PAGE_TITLES = {
    "part1_deep_vs_shallow": "Part 1: deep vs shallow",
    "part2_optimization": "Part 2: optimization",
    "part3_generalization": "Part 3: generalization",
}
NOTEBOOK_EXPERIMENTS = {
    "part1_deep_vs_shallow": ("sim-fit", "mnist-fit"),
    "part2_optimization": ("pca-path", "grad-norm", "minimal-ratio"),
    "part3_generalization": ("random-labels", "param-count", "interpolation", "sensitivity"),
}
SECTIONS = {
    "sim-fit": "1.1", "mnist-fit": "1.2", "pca-path": "2.1", "grad-norm": "2.2",
    "minimal-ratio": "2.3", "random-labels": "3.1", "param-count": "3.2",
    "interpolation": "3.3.1", "sensitivity": "3.3.2",
}
PROFILE_ORDER = ("quick", "full")
VERDICT_CLASSES = (("reproduced", "ok"), ("differs", "differs"), ("reference wrong", "wrong"))
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "apt-get install chromium poppler-utils (as root, or with sudo)"
# print offline: no first-run, sync or update traffic, and every host name fails to resolve
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw", "--virtual-time-budget=5000",
)

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2328; max-width: 1200px; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 0.35em 0.55em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
table.facts th { width: 13em; }
td.num { text-align: right; white-space: nowrap; }
code { font-size: 0.88em; background: #f6f8fa; padding: 0.1em 0.3em; border-radius: 3px; }
.muted { color: #59636e; }
.verdict { font-weight: 600; }
.ok { color: #1a7f37; } .differs { color: #9a6700; } .wrong { color: #8250df; }
.failed { color: #cf222e; } .not-run { color: #59636e; }
@media print {
  body { font-size: 10.5px; max-width: none; margin: 0; padding: 0; }
  .screen-only { display: none; }
  tr { break-inside: avoid; }
}
"""


def load_all_results(build_root: Path | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Return {profile: {experiment id: results}} for every results file under build_root.

    build_root defaults to $HW1_BUILD_DIR, else build/.

    A file that is not valid JSON is returned as a failed run whose error names the file.
    """
    found: dict[str, dict[str, dict[str, Any]]] = {}
    build_root = build_root or default_build_root()
    for path in sorted(build_root.glob("*/results/*.json")):
        profile, exp_id = path.parent.parent.name, path.stem
        if exp_id not in EXPERIMENT_IDS:
            continue
        try:
            found.setdefault(profile, {})[exp_id] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            found.setdefault(profile, {})[exp_id] = {
                "id": exp_id, "status": "failed",
                "error": f"unreadable results file {path}: {error}",
            }
    return found


def profiles_to_show(all_results: dict[str, Any], report_root: Path) -> list[str]:
    """Return the profiles with results or rendered pages, quick and full first; quick when none."""
    rendered = {d.name for d in report_root.glob("*/") if any(d.glob("*.html"))}
    found = set(all_results) | rendered
    ordered = [p for p in PROFILE_ORDER if p in found] + sorted(found - set(PROFILE_ORDER))
    return ordered or ["quick"]


def notebook_of(exp_id: str) -> str:
    """Return the stem of the notebook that runs experiment `exp_id`."""
    return next(nb for nb, ids in NOTEBOOK_EXPERIMENTS.items() if exp_id in ids)


def run_command(exp_id: str, profile: str) -> str:
    """Return the command that runs experiment `exp_id` under `profile`."""
    if profile in PROFILE_ORDER:
        return f"make report PROFILE={profile}"
    notebook = notebook_of(exp_id)
    return (f"mkdir -p build/{profile} && .venv/bin/papermill --kernel hw1-lab --cwd notebooks "
            f"-f params/{notebook}/quick.yaml -p profile {profile} notebooks/{notebook}.ipynb "
            f"build/{profile}/{notebook}.ipynb")


def verdict_class(verdict: str) -> str:
    """Return the CSS class of a verdict by its first words: ok, differs, wrong or empty."""
    lowered = verdict.lower()
    return next((cls for prefix, cls in VERDICT_CLASSES if lowered.startswith(prefix)), "")


def _e(value: Any) -> str:
    return html.escape(str(value))


def format_seconds(seconds: float | None) -> str:
    """Return a wall time as "42 s", "3.5 min" or "2.1 h"."""
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def experiment_row(exp_id: str, res: dict[str, Any] | None, profile: str) -> str:
    """Return the index table row of one experiment: its headline, or why it has none."""
    label = f"<td><b>{_e(exp_id)}</b><br><span class='muted'>{SECTIONS[exp_id]}</span></td>"
    if res is None:
        message = (f"not run; <code>{_e(run_command(exp_id, profile))}</code> runs "
                   f"<code>notebooks/{notebook_of(exp_id)}.ipynb</code>")
        return f"<tr>{label}<td colspan='4' class='not-run'>{message}</td><td></td><td></td></tr>"

    seeds = res.get("seeds") or []
    tail = (f"<td class='num'>{len(seeds)}</td>"
            f"<td class='num'>{format_seconds(res.get('wall_time_s'))}</td>")
    headline = (res.get("summary") or {}).get("headline")
    if res.get("status") != "ok":
        message = f"<b>{_e(res.get('status', 'unknown status'))}</b>: {_e(res.get('error'))}"
        return f"<tr>{label}<td colspan='4' class='failed'>{message}</td>{tail}</tr>"
    if not headline:
        message = ("ran, but the results file has no summary headline; rerun with "
                   f"<code>{_e(run_command(exp_id, profile))}</code>")
        return f"<tr>{label}<td colspan='4' class='failed'>{message}</td>{tail}</tr>"

    reference = headline.get("reference") or "no figure in the reference report"
    verdict = headline.get("verdict", "")
    cells = (f"<td>{_e(headline.get('question', ''))}</td><td>{_e(headline.get('result', ''))}</td>"
             f"<td>{_e(reference)}</td>"
             f"<td class='verdict {verdict_class(verdict)}'>{_e(verdict)}</td>")
    return f"<tr>{label}{cells}{tail}</tr>"


def experiments_table(profile: str, experiments: dict[str, dict[str, Any]]) -> str:
    """Return the table of every experiment under `profile`, in the homework's order."""
    head = ("<tr><th>experiment</th><th>question</th><th>our result</th>"
            "<th>reference report</th><th>verdict</th><th>seeds</th><th>wall time</th></tr>")
    rows = "".join(experiment_row(i, experiments.get(i), profile) for i in EXPERIMENT_IDS)
    return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def pages_list(profile: str, report_root: Path) -> str:
    """Return the links to the profile's rendered pages, and the PDF when it exists."""
    items = []
    for notebook, title in PAGE_TITLES.items():
        page = report_root / profile / f"{notebook}.html"
        if page.is_file():
            items.append(f"<li><a href='{profile}/{page.name}'>{_e(title)}</a></li>")
        else:
            items.append(f"<li>{_e(title)}: <span class='not-run'>not rendered</span></li>")
    pdf = pdf_path(profile, report_root)
    if pdf.is_file():
        items.append(f"<li class='screen-only'><a href='{pdf.name}'>PDF of this profile</a></li>")
    else:
        command = f"make pdf PROFILE={_e(profile)}"
        items.append(f"<li class='screen-only muted'>PDF: <code>{command}</code> writes it</li>")
    return f"<ul>{''.join(items)}</ul>"


def _commit(facts: dict[str, Any]) -> str:
    commit = (facts.get("git_commit") or "unknown")[:12]
    dirty = facts.get("git_dirty")
    if dirty is None:
        return f"{commit} (uncommitted changes: unknown)"
    return commit + (" (uncommitted changes)" if dirty else "")


def _device(res: dict[str, Any]) -> str:
    gpu = (res.get("provenance") or {}).get("cuda_device")
    return f"{res.get('device', 'unknown')}{f' ({gpu})' if gpu else ''}"


def _when(started_at: str) -> str:
    return started_at.replace("T", " ").removesuffix("+00:00")


def _distinct(values: list[str]) -> str:
    unique = sorted(set(values))
    text = "; ".join(unique)
    return text + (" <span class='muted'>(differs between experiments)</span>"
                   if len(unique) > 1 else "")


def provenance_rows(experiments: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """Return (fact, HTML value) rows: device, versions, git commit and dates of the runs."""
    runs = [r for r in experiments.values() if r.get("provenance")]
    if not runs:
        return []
    facts = [r["provenance"] for r in runs]
    started = sorted(r["started_at"] for r in runs if r.get("started_at"))
    total = sum(r.get("wall_time_s") or 0.0 for r in runs)
    return [
        ("device", _distinct([_e(_device(r)) for r in runs])),
        ("torch / torchvision", _distinct(
            [_e(f"{f.get('torch_version')} / {f.get('torchvision_version')}") for f in facts])),
        ("Python / NumPy", _distinct(
            [_e(f"{f.get('python_version')} / {f.get('numpy_version')}") for f in facts])),
        ("git commit", _distinct([_e(_commit(f)) for f in facts])),
        ("platform, CPU threads", _distinct(
            [_e(f"{f.get('platform')}, {f.get('cpu_threads')} threads") for f in facts])),
        ("runs started (UTC)",
         _e(f"{_when(started[0])} to {_when(started[-1])}" if started else "unknown")),
        ("total wall time", _e(f"{format_seconds(total)} over {len(runs)} experiments")),
    ]


def provenance_table(experiments: dict[str, dict[str, Any]]) -> str:
    """Return the provenance table of one profile's runs, or a note when nothing ran."""
    rows = provenance_rows(experiments)
    if not rows:
        return "<p class='muted'>No results files under this profile yet.</p>"
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class='facts'><tbody>{body}</tbody></table>"


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in settings.items())


def parameters_table(experiments: dict[str, dict[str, Any]]) -> str:
    """Return one row per run experiment: its settings, seeds, device, start and wall time."""
    rows = []
    for exp_id in EXPERIMENT_IDS:
        res = experiments.get(exp_id)
        if res is None or "settings" not in res:
            continue
        rows.append(
            f"<tr><td>{_e(exp_id)}</td><td>{_e(_settings_text(res['settings']))}</td>"
            f"<td>{_e(', '.join(map(str, res.get('seeds') or [])))}</td><td>{_e(_device(res))}</td>"
            f"<td>{_e(_when(res.get('started_at', '')))}</td>"
            f"<td class='num'>{format_seconds(res.get('wall_time_s'))}</td></tr>")
    if not rows:
        return ""
    head = ("<tr><th>experiment</th><th>parameters</th><th>seeds</th><th>device</th>"
            "<th>started (UTC)</th><th>wall time</th></tr>")
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def profile_section(profile: str, experiments: dict[str, dict[str, Any]], report_root: Path) -> str:
    """Return the index section of one profile: results, pages, provenance and parameters."""
    return (
        f"<h2 id='{_e(profile)}'>Profile <code>{_e(profile)}</code></h2>"
        f"{experiments_table(profile, experiments)}"
        f"<h3>Pages</h3>{pages_list(profile, report_root)}"
        f"<h3>Provenance</h3>{provenance_table(experiments)}"
        f"<h3>Parameters and wall time per experiment</h3>{parameters_table(experiments)}"
    )


def render_index(all_results: dict[str, dict[str, dict[str, Any]]], report_root: Path,
                 built: str) -> str:
    """Return the index page: one section per profile, built from the results files."""
    profiles = profiles_to_show(all_results, report_root)
    sections = "".join(profile_section(p, all_results.get(p, {}), report_root) for p in profiles)
    intro = (
        "<p>The experiments of deep learning homework 1, run on real MNIST, beside the results "
        "printed in the reference report. Each row comes from that experiment's results file "
        "(<code>build/&lt;profile&gt;/results/&lt;id&gt;.json</code>). A verdict reads "
        "<span class='ok'>reproduced</span>, <span class='differs'>differs</span> (by how much) "
        "or <span class='wrong'>reference wrong</span> (and why). Where an experiment has "
        "several seeds, results are the mean ± standard deviation over them.</p>"
        f"<p class='muted'>Index built {_e(built)}. Profiles: "
        + ", ".join(f"<a href='#{_e(p)}'>{_e(p)}</a>" for p in profiles) + ".</p>"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>hw1-lab report</title><style>{STYLE}</style></head>"
        f"<body><h1>hw1-lab report</h1>{intro}{sections}</body></html>\n"
    )


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                     delete=False, encoding="utf-8") as tmp:
        tmp.write(text)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, path)


def build_index(build_root: Path | None = None, report_root: Path = REPORT_ROOT) -> Path:
    """Write report_root/index.html from the results files under build_root."""
    built = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = render_index(load_all_results(build_root), report_root, built)
    path = report_root / "index.html"
    write_text_atomic(path, page)
    return path


def pdf_path(profile: str, report_root: Path = REPORT_ROOT) -> Path:
    """Return the path of the profile's PDF, report/hw1-report-<profile>.pdf."""
    return report_root / f"hw1-report-{profile}.pdf"


def find_pdf_tools() -> tuple[str, str]:
    """Return the paths of Chromium and pdfunite; RuntimeError names the missing ones."""
    chromium = next((shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n)), None)
    pdfunite = shutil.which("pdfunite")
    tools = (("chromium", chromium), ("pdfunite (poppler-utils)", pdfunite))
    missing = [name for name, tool in tools if tool is None]
    if missing:
        raise RuntimeError(
            f"{' and '.join(missing)} not found on PATH; install with: {INSTALL_HINT}")
    return chromium, pdfunite


def report_pages(profile: str, report_root: Path = REPORT_ROOT) -> list[Path]:
    """Return the index and the profile's rendered pages, in reading order."""
    index = report_root / "index.html"
    parts = [report_root / profile / f"{nb}.html" for nb in PAGE_TITLES]
    rendered = [page for page in parts if page.is_file()]
    if not index.is_file() or not rendered:
        raise FileNotFoundError(
            f"no rendered report for profile {profile!r} under {report_root}; "
            f"run `make report PROFILE={profile}` first")
    for page in sorted(set(parts) - set(rendered)):
        log.warning("%s is not rendered; the PDF leaves it out", page)
    return [index, *rendered]


def print_page(chromium: str, page: Path, out: Path, user_data_dir: Path) -> None:
    """Print one HTML page to PDF with headless Chromium; RuntimeError carries its stderr."""
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}",
               f"--print-to-pdf={out}", page.resolve().as_uri()]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"chromium timed out after 300 s printing {page}") from error
    if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        raise RuntimeError(f"chromium failed to print {page} (exit code {done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")


def build_pdf(profile: str, report_root: Path = REPORT_ROOT) -> Path:
    """Print the index and the profile's pages, merge them, and write the profile's PDF."""
    chromium, pdfunite = find_pdf_tools()
    pages = report_pages(profile, report_root)
    target = pdf_path(profile, report_root)
    with tempfile.TemporaryDirectory(prefix="hw1-pdf-") as tmp:
        parts = []
        for number, page in enumerate(pages):
            part = Path(tmp) / f"{number:02d}-{page.stem}.pdf"
            log.info("printing %s", page)
            print_page(chromium, page, part, Path(tmp) / "chromium-profile")
            parts.append(part)

        partial = target.with_name(f".{target.name}.partial")
        merged = subprocess.run([pdfunite, *map(str, parts), str(partial)],
                                capture_output=True, text=True)
        if merged.returncode != 0:
            partial.unlink(missing_ok=True)
            raise RuntimeError(
                f"pdfunite failed (exit code {merged.returncode}): {merged.stderr.strip()}")
        os.replace(partial, target)
    return target


def main() -> None:
    """Write report/index.html, or with --pdf PROFILE the profile's PDF."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf", metavar="PROFILE",
                        help="print the index and PROFILE's pages into "
                             "report/hw1-report-PROFILE.pdf")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.pdf:
        try:
            path = build_pdf(args.pdf)
        except (RuntimeError, FileNotFoundError) as error:
            raise SystemExit(f"error: {error}") from None
        print(f"wrote {path}")
    # after a PDF too, so that the index links it
    print(f"wrote {build_index()}")


if __name__ == "__main__":
    main()
