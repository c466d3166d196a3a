"""The HTML report: sections appear for what a run has, the page is self-contained, bad input exits 2."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from lrscope.errors import UserError
from lrscope.report.html import build_report, write_demo_report
from lrscope.report.text import fmt
from report_sample import write_sample_run

EXTERNAL = re.compile(
    r"""(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""", re.I
)


def section_ids(page: str) -> set[str]:
    return set(re.findall(r'<section id="([^"]+)"', page))


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    return write_sample_run(tmp_path_factory.mktemp("r") / "run")


@pytest.fixture(scope="module")
def full_page(full_run):
    return build_report(full_run).read_text(encoding="utf-8")


def test_full_run_has_every_section(full_page):
    ids = section_ids(full_page)
    for name in ("schedule", "curves", "explanation", "noise", "finder", "landscape"):
        assert f"run-{name}" in ids, name
    assert "config" in ids  # once, at the end, folded
    assert "could not render" not in full_page
    assert full_page.count("<svg") >= 7


def test_page_is_self_contained(full_page):
    assert not EXTERNAL.search(full_page)
    assert "<script" not in full_page.lower()
    assert "<link" not in full_page.lower()
    assert "http://" not in full_page and "https://" not in full_page


def test_page_text_explains(full_page):
    text = re.sub(r"<[^>]+>", " ", full_page).lower()
    for words in (
        "schedule",
        "learning rate",
        "explanation",
        "loss",
        "noise floor",
        "still improving",
        "rate change at epoch 11",
        "suggested learning rate",
    ):
        assert words in text, words


def test_phone_width_css(full_page):
    assert 'name="viewport"' in full_page
    assert "max-width: 100%" in full_page and "@media (max-width: 600px)" in full_page
    # figures are responsive: no fixed width/height on the svg element itself
    for head in re.findall(r"<svg[^>]*>", full_page):
        assert not re.search(r'\swidth="', head) and "viewBox" in head


def test_bare_run_lists_what_is_missing(tmp_path):
    run = tmp_path / "bare"
    run.mkdir()
    (run / "metrics.jsonl").write_text(
        "".join(
            json.dumps({"kind": "epoch", "epoch": e, "lr": 0.1, "train_loss": 1.0 / e}) + "\n"
            for e in range(1, 6)
        )
        + '{"kind": "epo'
    )  # a torn last line
    page = build_report(run).read_text()
    ids = section_ids(page)
    assert "bare-curves" in ids and "bare-schedule" in ids
    for absent in ("config", "bare-finder", "bare-noise", "bare-landscape", "bare-compare"):
        assert absent not in ids
    assert "not-in-this-run" in ids
    assert "lrscope find" in page and "--noise-every" in page


def test_unreadable_files_give_notes_not_errors(tmp_path):
    run = write_sample_run(tmp_path / "broken")
    (run / "explain.json").write_text("{not json")
    (run / "probes" / "finder.json").write_bytes(b"\x00\xff garbage")
    (run / "probes" / "plane-e0020.npz").write_bytes(b"not an npz")
    (run / "config.json").write_text("[1, 2")
    page = build_report(run).read_text()
    assert "explain.json is not readable JSON" in page
    assert "finder.json is not readable JSON" in page
    assert "plane-e0020.npz is not a readable .npz" in page
    assert "config.json is not readable JSON" in page
    assert "broken-curves" in section_ids(page)


def test_wrong_shapes_in_json_do_not_crash(tmp_path):
    run = write_sample_run(tmp_path / "odd")
    (run / "explain.json").write_text(
        json.dumps(
            {
                "schema": "lrscope.explain/1",
                "drops": "x",
                "events": [3],
                "stages": None,
                "findings": [{"text": 5}],
            }
        )
    )
    (run / "probes" / "finder.json").write_text(json.dumps({"lrs": "a", "suggestion": "fast"}))
    page = build_report(run).read_text()
    assert "odd-explanation" in section_ids(page)
    assert "Traceback" not in page


def test_demo_directory_compares_both_runs(tmp_path):
    demo = tmp_path / "demo"
    write_sample_run(demo / "step")
    write_sample_run(demo / "onecycle", schedule="onecycle(0.4, total=20)", extras=False)
    shutil.copy(demo / "step" / "probes" / "finder.json", demo / "finder.json")
    (demo / "compare.json").write_text(
        json.dumps(
            {
                "schema": "lrscope.compare/1",
                "runs": [
                    {
                        "schedule": "multistep(0.1, milestones=[10, 15])",
                        "final_val_acc": 0.91,
                        "best_val_acc": 0.92,
                    },
                    {"schedule": "onecycle(0.4, total=20)", "final_val_acc": 0.93, "best_val_acc": 0.93},
                ],
            }
        )
    )
    out = write_demo_report(demo)
    assert out == demo / "report.html"
    page = out.read_text()
    ids = section_ids(page)
    assert {"comparison", "finder", "compare", "step-explanation", "onecycle-curves"} <= ids
    assert page.index('id="comparison"') < page.index('id="step-curves"') < page.index('id="config"')
    assert page.count('id="config"') == 1 and "<details>" in page  # one configuration table, folded, last
    assert "onecycle(0.4, total=20)" in page and "final val acc" in page


def test_default_and_explicit_out(tmp_path, full_run):
    out = build_report(full_run, tmp_path / "elsewhere.html")
    assert out.exists()
    with pytest.raises(UserError, match=r"\.html"):
        build_report(full_run, tmp_path / "report.pdf")


def test_not_a_run_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not an lrscope run directory"):
        build_report(tmp_path / "empty")
    with pytest.raises(UserError, match="does not exist"):
        build_report(tmp_path / "nowhere")


def test_fmt_numbers():
    assert fmt(0.1) == "0.1" and fmt(None) == "–" and fmt(float("nan")) == "–"
    assert fmt(2.5e-5) == "2.5e-05" and fmt(True) == "yes" and fmt([0.1, 0.2]) == "0.1, 0.2"
    # one formatter, three significant digits: the rate 0.0015625 reads the same everywhere
    assert fmt(0.0015625) == fmt(0.001563) == "0.00156" and fmt(5000.0) == "5000" and fmt(12345.6) == "12,346"


def test_cli_report(cli, tmp_path, full_run):
    result = cli("report", str(full_run), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("r.html")
    (tmp_path / "plain").mkdir()
    bad = cli("report", str(tmp_path / "plain"))
    assert bad.returncode == 2
    assert "not an lrscope run directory" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "plain" / "report.html").exists()
