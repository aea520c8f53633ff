"""Helpers that notebooks call to set up a run and show results as text."""

import datetime as dt
import html
import logging
import sys
import types
from collections.abc import Sequence
from typing import Any

import torch
from IPython.display import HTML, Markdown, display

from hwlib import plots, results, train


def setup(p: types.SimpleNamespace) -> torch.device:
    """Configure logging and the plot theme, pick the device, and show the run's provenance."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    # two progress lines per run (midway and last) keep the rendered report readable
    train.PROGRESS_LINES = 2
    plots.set_theme()
    device = train.select_device(p.device)
    show_provenance(p, device)
    return device


def show_provenance(p: types.SimpleNamespace, device: torch.device) -> None:
    """Display the profile, parameters, device, versions and git commit of this run."""
    facts = results.provenance()
    commit = facts["git_commit"] or "unknown"
    dirty = " (uncommitted changes)" if facts["git_dirty"] else ""
    rows = [
        ("profile", p.profile),
        ("date", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("device", f"{device}{' ' + facts['cuda_device'] if facts['cuda_device'] else ''}"),
        ("torch / torchvision", f"{facts['torch_version']} / {facts['torchvision_version']}"),
        ("git commit", f"{commit[:12]}{dirty}"),
        ("parameters", ", ".join(f"{k}={v!r}" for k, v in vars(p).items())),
    ]
    show_table([{"": k, "value": v} for k, v in rows])


def show_verdict(text: str) -> None:
    """Display a verdict computed from results as a bold Markdown line."""
    display(Markdown(f"**Verdict.** {text}"))


def show_table(rows: Sequence[dict[str, Any]]) -> None:
    """Display a list of dicts as an HTML table (the keys of the first row are the columns)."""
    if not rows:
        display(Markdown("_(no rows)_"))
        return
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    display(HTML(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"))


def show_run_summary(p: types.SimpleNamespace, exp_ids: Sequence[str]) -> None:
    """Display status, seeds, device, start, wall time and commit from the results files."""
    show_table([_run_summary_row(p, exp_id) for exp_id in exp_ids])
    if p.cache:
        display(Markdown(
            f"_Runs reloaded from the run cache (build/{p.profile}/cache) count only the time "
            "it took to load them; set `cache = False` to time every run._"))


def _run_summary_row(p: types.SimpleNamespace, exp_id: str) -> dict[str, str]:
    row = dict.fromkeys(("experiment", "status", "seeds", "device", "started (UTC)",
                         "wall time", "git commit"), "—")
    row["experiment"] = exp_id
    try:
        res = results.load_results(exp_id, p.profile, p.results_dir or None)
    except FileNotFoundError:
        row["status"] = "not run"
        return row

    facts = res.get("provenance") or {}
    dirty = " (uncommitted changes)" if facts.get("git_dirty") else ""
    row.update({
        "status": res["status"] if res["status"] == "ok"
        else f"{res['status']}: {res.get('error')}",
        "seeds": ", ".join(map(str, res["seeds"])),
        "device": res["device"],
        "started (UTC)": res["started_at"].replace("T", " ")[:19],
        "wall time": f"{res['wall_time_s']:.1f} s",
        "git commit": f"{(facts.get('git_commit') or 'unknown')[:12]}{dirty}",
    })
    return row
