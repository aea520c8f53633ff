"""Report index built from results files, and the PDF printed from the rendered pages."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hwlib import report, results

PART1_PAGE = "<!doctype html><html><body><h1>Part 1</h1><p>figures here</p></body></html>"


def write_results(build_root: Path, exp_id: str, result: str, verdict: str = "reproduced",
                  profile: str = "quick", seeds=(0, 1, 2)) -> None:
    """Write a results file with a headline through hwlib.results, as an experiment does."""
    folder = build_root / profile / "results"
    with results.experiment(exp_id, profile, {"epochs": 7, "lr": 0.001}, list(seeds), "cpu",
                            folder) as exp:
        exp.summary["headline"] = results.headline(
            question=f"What does {exp_id} show?", result=result,
            reference="reference figure: 0.5", verdict=verdict)


def write_failed(build_root: Path, exp_id: str, message: str, profile: str = "quick") -> None:
    """Write the results file of a run that raised, as hwlib.results records it."""
    folder = build_root / profile / "results"
    with pytest.raises(ValueError):
        with results.experiment(exp_id, profile, {}, [0], "cpu", folder):
            raise ValueError(message)


def build(tmp_path: Path) -> str:
    """Build the index from tmp_path/build into tmp_path/report and return its HTML."""
    path = report.build_index(tmp_path / "build", tmp_path / "report")
    return path.read_text()


def row_of(page: str, exp_id: str) -> str:
    """Return the experiments-table row of `exp_id` (the first row that names it in bold)."""
    match = re.search(rf"<tr><td><b>{re.escape(exp_id)}</b>.*?</tr>", page)
    assert match, f"no row for {exp_id} in the index"
    return match.group(0)


@pytest.fixture
def roots(tmp_path):
    (tmp_path / "report").mkdir()
    return tmp_path


def test_index_shows_headline(roots):
    write_results(roots / "build", "sim-fit", "sim-1 0.0123 ± 0.004")
    row = row_of(build(roots), "sim-fit")
    assert "What does sim-fit show?" in row
    assert "sim-1 0.0123 ± 0.004" in row
    assert "reference figure: 0.5" in row
    assert "class='verdict ok'" in row
    assert ">3</td>" in row  # seeds


def test_index_follows_results_change(roots):
    write_results(roots / "build", "mnist-fit", "dnn-3 97.10%")
    assert "dnn-3 97.10%" in row_of(build(roots), "mnist-fit")

    write_results(roots / "build", "mnist-fit", "dnn-1 95.40%", verdict="differs: by 2.1 pp")
    row = row_of(build(roots), "mnist-fit")
    assert "dnn-1 95.40%" in row
    assert "dnn-3 97.10%" not in row
    assert "class='verdict differs'" in row


def test_index_missing_shows_not_run(roots):
    write_results(roots / "build", "sim-fit", "sim-1 0.01")
    page = build(roots)
    for exp_id in ("pca-path", "sensitivity"):
        row = row_of(page, exp_id)
        assert "not run" in row
        assert "make report PROFILE=quick" in row
    assert "part2_optimization.ipynb" in row_of(page, "pca-path")
    assert "part3_generalization.ipynb" in row_of(page, "sensitivity")


def test_index_without_results_lists_all(roots):
    page = build(roots)
    for exp_id in results.EXPERIMENT_IDS:
        assert "not run" in row_of(page, exp_id)


def test_index_failed_shows_error(roots):
    write_failed(roots / "build", "grad-norm", "lr=-1 must be positive")
    row = row_of(build(roots), "grad-norm")
    assert "class='failed'" in row
    assert "<b>failed</b>" in row
    assert "ValueError: lr=-1 must be positive" in row


def test_index_unreadable_file_fails(roots):
    folder = roots / "build" / "quick" / "results"
    folder.mkdir(parents=True)
    (folder / "param-count.json").write_text('{"id": "param-co')
    row = row_of(build(roots), "param-count")
    assert "failed" in row
    assert "unreadable results file" in row
    assert "param-count.json" in row


def test_index_ok_without_headline(roots):
    folder = roots / "build" / "quick" / "results"
    with results.experiment("interpolation", "quick", {}, [0], "cpu", folder):
        pass
    row = row_of(build(roots), "interpolation")
    assert "no summary headline" in row


def test_index_escapes_html(roots):
    write_results(roots / "build", "sim-fit", "<script>alert(1)</script>")
    page = build(roots)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_index_one_section_per_profile(roots):
    write_results(roots / "build", "sim-fit", "quick result", profile="quick")
    write_results(roots / "build", "sim-fit", "full result", profile="full")
    page = build(roots)
    assert page.index("id='quick'") < page.index("id='full'")
    quick, full = page.split("id='full'")
    assert "quick result" in quick
    assert "full result" in full
    assert "make report PROFILE=full" in full


def test_index_provenance(roots):
    write_results(roots / "build", "sim-fit", "sim-1 0.01")
    page = build(roots)
    facts = results.load_results("sim-fit", "quick", roots / "build" / "quick" / "results")["provenance"]
    assert f"{facts['torch_version']} / {facts['torchvision_version']}" in page
    commit = (facts["git_commit"] or "unknown")[:12]
    assert commit in page
    assert "epochs=7, lr=0.001" in page  # parameters
    assert "0, 1, 2" in page  # seeds
    assert "total wall time" in page


def test_index_links_pages(roots):
    (roots / "report" / "quick").mkdir()
    (roots / "report" / "quick" / "part1_deep_vs_shallow.html").write_text(PART1_PAGE)
    page = build(roots)
    assert "href='quick/part1_deep_vs_shallow.html'" in page
    assert "Part 2: optimization: <span class='not-run'>not rendered" in page


def test_index_works_offline(roots):
    write_results(roots / "build", "sim-fit", "sim-1 0.01")
    page = build(roots)
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page)
    assert "<link" not in page
    assert "<style>" in page


def test_verdict_class():
    assert report.verdict_class("reproduced: same best models") == "ok"
    assert report.verdict_class("differs: dnn-1 by 2 pp") == "differs"
    assert report.verdict_class("Reference wrong: it drops the α") == "wrong"
    assert report.verdict_class("unclear") == ""


def test_format_seconds():
    assert report.format_seconds(42.4) == "42 s"
    assert report.format_seconds(210) == "3.5 min"
    assert report.format_seconds(9000) == "2.5 h"
    assert report.format_seconds(None) == "—"


def test_pdf_needs_rendered_report(tmp_path):
    with pytest.raises(FileNotFoundError, match="make report PROFILE=quick"):
        report.report_pages("quick", tmp_path)


def test_pdf_missing_tools_named(monkeypatch):
    monkeypatch.setattr(report.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="chromium and pdfunite.*apt-get install chromium poppler-utils"):
        report.find_pdf_tools()


@pytest.mark.skipif(
    not (any(shutil.which(n) for n in report.CHROMIUM_NAMES) and shutil.which("pdfunite")
         and shutil.which("pdfinfo")),
    reason="needs chromium and poppler-utils: apt-get install chromium poppler-utils")
def test_pdf_has_pages(roots):
    write_results(roots / "build", "sim-fit", "sim-1 0.01")
    (roots / "report" / "quick").mkdir()
    (roots / "report" / "quick" / "part1_deep_vs_shallow.html").write_text(PART1_PAGE)
    build(roots)

    path = report.build_pdf("quick", roots / "report")
    assert path == roots / "report" / "hw1-report-quick.pdf"
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    assert pages >= 2  # the index and Part 1
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "hw1-lab report" in text
    assert "figures here" in text
