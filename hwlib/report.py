"""Build report/index.html from the results files and the rendered notebook pages.

Run as `python -m hwlib.report`; `make report` does so after rendering.
"""

import datetime as dt
import html
import json
import logging
from pathlib import Path
from typing import Any

from hwlib.data import REPO_ROOT
from hwlib.results import BUILD_ROOT, EXPERIMENT_IDS

log = logging.getLogger(__name__)

REPORT_ROOT = REPO_ROOT / "report"
PAGE_TITLES = {
    "part1_deep_vs_shallow": "Part 1: deep vs shallow",
    "part2_optimization": "Part 2: optimization",
    "part3_generalization": "Part 3: generalization",
}


def load_all_results(build_root: Path = BUILD_ROOT) -> dict[str, dict[str, dict[str, Any]]]:
    """Return {profile: {experiment id: results}} for every results file under build_root."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(build_root.glob("*/results/*.json")):
        profile, exp_id = path.parent.parent.name, path.stem
        if exp_id in EXPERIMENT_IDS:
            found.setdefault(profile, {})[exp_id] = json.loads(path.read_text())
    return found


def _experiment_rows(experiments: dict[str, dict[str, Any]]) -> str:
    rows = []
    for exp_id in EXPERIMENT_IDS:
        if exp_id not in experiments:
            continue
        res = experiments[exp_id]
        status = res["status"] if res["status"] == "ok" else f"{res['status']}: {res.get('error')}"
        rows.append(
            f"<tr><td>{exp_id}</td><td>{html.escape(status)}</td>"
            f"<td>{res['device']}</td><td>{res['wall_time_s']:.1f}</td></tr>"
        )
    return "".join(rows)


def build_index(build_root: Path = BUILD_ROOT, report_root: Path = REPORT_ROOT) -> Path:
    """Write report_root/index.html linking every rendered page, with a table per profile."""
    all_results = load_all_results(build_root)
    sections = []
    for profile_dir in sorted(p for p in report_root.iterdir() if p.is_dir()):
        pages = sorted(profile_dir.glob("*.html"))
        if not pages:
            continue
        profile = profile_dir.name
        links = "".join(
            f'<li><a href="{profile}/{page.name}">{PAGE_TITLES.get(page.stem, page.stem)}</a></li>'
            for page in pages
        )
        table = _experiment_rows(all_results.get(profile, {}))
        sections.append(
            f"<h2>Profile {profile}</h2><ul>{links}</ul>"
            "<table><thead><tr><th>experiment</th><th>status</th><th>device</th>"
            f"<th>wall time (s)</th></tr></thead><tbody>{table}</tbody></table>"
        )
    built = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>hw1-lab report</title></head>"
        f"<body><h1>hw1-lab report</h1><p>Built {built}.</p>{''.join(sections)}</body></html>"
    )
    path = report_root / "index.html"
    path.write_text(page)
    return path


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = build_index()
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
