"""`lrscope report` on logs that are not lrscope runs (real logs written by others), several runs side by side,
where the page goes by default, and the tables saying what the explanation's words say."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from lrscope.errors import UserError
from lrscope.report.explanation_section import explanation_section, forecast_section
from lrscope.report.html import build_report, default_out
from lrscope.report.log_read import read_log_runs
from lrscope.viz.log_figures import spans_decades

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-logs"
TSV = REAL / "bearpaw-cifar10-resnet110.tsv"
TFEVENTS = REAL / "simpleclassification-resnet18-cosine.tfevents"
HF = REAL / "hf-commonvoice-ja-whisper-large-v2-linear-trainer_state.json"
APPENDED = REAL / "detr-ecg-two-runs-appended-steplr-log.jsonl"
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""", re.I)

pytestmark = pytest.mark.skipif(not TSV.exists(), reason="the shared real logs are not here")


def text_of(page: str) -> str:
    page = re.sub(r"<svg.*?</svg>", " ", page, flags=re.S)
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def table(page: str, caption: str) -> list[list[str]]:
    """The body rows of the table with ``caption`` (cells as text)."""
    m = re.search(rf"<caption>{re.escape(caption)}</caption>.*?<tbody>(.*?)</tbody>", page, re.S)
    assert m, caption
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tsv_page(tmp_path_factory) -> str:
    before = digest(TSV)
    out = build_report(TSV, tmp_path_factory.mktemp("tsv") / "r.html")
    assert digest(TSV) == before  # the user's log is only read
    return out.read_text(encoding="utf-8")


def test_tsv_page_has_curves_rate_and_explanation(tsv_page):
    assert tsv_page.count("<svg") >= 2 and not EXTERNAL.search(tsv_page) and "<script" not in tsv_page
    ids = set(re.findall(r'<section id="([^"]+)"', tsv_page))
    assert {"bearpaw-cifar10-resnet110.tsv-curves", "bearpaw-cifar10-resnet110.tsv-explanation"} <= ids
    text = text_of(tsv_page)
    assert "learning rate" in text.lower() and "cut 10x at epoch 82" in text
    assert [row[0] for row in table(tsv_page, "learning-rate changes")] == ["epoch 82", "epoch 123"]


def test_tsv_stage_table_counts_like_the_text(tsv_page):
    rows = table(tsv_page, "stages at a constant rate")
    assert [r[1] for r in rows] == ["epoch 1–81", "epoch 82–122", "epoch 123–164"]
    text = text_of(tsv_page)
    assert "Stage 1 (epoch 1-81" in text and "Stage 3 (epoch 123-164" in text
    # one verdict: the words say stage 3 plateaued and stage 2 overfit, so does the table
    assert rows[2][3] == "plateaued" and "Stage 3 (epoch 123-164, LR 0.001) has plateaued" in text
    assert rows[1][3] == "overfitting" and "see the overfitting finding" in text


def test_only_sharp_drops_are_listed(tsv_page):
    from lrscope.analysis.explain import explain
    from lrscope.logs.read import read_log

    doc = explain(read_log(TSV)).to_json()
    sharp = [d for d in doc["drops"] if d["sharp"]]
    assert len(sharp) < len(doc["drops"])  # the log has drops explain judged not sharp
    rows = table(tsv_page, "sharp drops")
    assert len(rows) == len(sharp)
    assert {(r[0], r[1]) for r in rows} == {(d["metric"].replace("_", " "), f"epoch {int(d['x'])}") for d in sharp}


def test_tensorboard_cosine_has_no_stage_table(tmp_path):
    page = build_report(TFEVENTS, tmp_path / "tb.html").read_text(encoding="utf-8")
    text = text_of(page)
    assert page.count("<svg") >= 2 and "smooth schedule" in text
    assert "stages at a constant rate" not in page  # a smooth schedule has no stages to judge
    assert "learning-rate changes" not in page and "no step change of the rate to mark" in text


def test_hf_trainer_state_shows_its_error_rate(tmp_path):
    page = build_report(HF, tmp_path / "hf.html").read_text(encoding="utf-8")
    ids = set(re.findall(r'<section id="([^"]+)"', page))
    name = HF.name
    assert {f"{name}-curves", f"{name}-accuracy", f"{name}-explanation"} <= ids
    text = text_of(page)
    assert "eval_wer" in text and "error rate" in page and "best_metric 0.7432" in text
    assert page.count("<svg") >= 2


def test_several_runs_side_by_side(tmp_path):
    page = build_report([TSV, APPENDED], tmp_path / "both.html").read_text(encoding="utf-8")
    ids = re.findall(r'<section id="([^"]+)"', page)
    assert ids[0] == "comparison"  # the runs compared first
    runs = table(page, "final and best values")
    assert len(runs) >= 3  # the TSV, and the two runs appended in the JSON-lines log
    assert runs[1][0].endswith("(records 1-100)") and runs[2][0].endswith("(records 101-300)")
    assert len(set(ids)) == len(ids)  # each run's sections have their own anchors
    assert sum(i.endswith("-explanation") for i in ids) == len(runs)


def test_default_out_is_in_the_current_directory(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    assert default_out([TSV]) == Path("bearpaw-cifar10-resnet110-report.html")
    assert default_out([TSV, HF]) == Path("lrscope-report.html")
    result = cli("report", str(TSV))
    assert result.returncode == 0, result.stderr
    written = tmp_path / "bearpaw-cifar10-resnet110-report.html"
    assert written.is_file() and not (TSV.parent / "bearpaw-cifar10-resnet110-report.html").exists()
    again = cli("report", str(TSV))  # lrscope's own page is replaced
    assert again.returncode == 0, again.stderr
    written.write_text("my notes")  # a file the user wrote is not
    refused = cli("report", str(TSV))
    assert refused.returncode == 2 and "--out" in refused.stderr and "Traceback" not in refused.stderr
    assert written.read_text() == "my notes"


def test_bad_logs_are_one_line(tmp_path, cli):
    empty = cli("report", str(REAL / "bearpaw-cifar100-resnet1202-header-only.tsv"), "--out", str(tmp_path / "e.html"))
    assert empty.returncode == 2 and "no data" in empty.stderr and "Traceback" not in empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1
    copy = tmp_path / "log.html"
    copy.write_text("x")
    same = cli("report", str(copy), "--out", str(copy))
    assert same.returncode == 2 and "input" in same.stderr and copy.read_text() == "x"
    (tmp_path / "plain").mkdir()
    with pytest.raises(UserError, match="not an lrscope run directory"):
        build_report(tmp_path / "plain", tmp_path / "p.html")


def test_short_stage_has_one_verdict(tmp_path):
    rows = ["epoch,lr,train_loss"] + [f"{e},0.1,{1.0 + 0.5 / e:.5f}" for e in range(1, 31)]
    rows += [f"{e},0.01,{0.5 - 0.01 * (e - 30):.5f}" for e in range(31, 34)]
    log = tmp_path / "short.csv"
    log.write_text("\n".join(rows) + "\n")
    page = build_report(log, tmp_path / "s.html").read_text(encoding="utf-8")
    text = text_of(page)
    stages = table(page, "stages at a constant rate")
    short = [r for r in stages if r[1] == "epoch 31–33"]
    assert "too short to judge" in text and short and short[0][3] == "too short to judge"


def test_forecast_section_from_explains_forecast_finding():
    class Run:
        path = Path("log.csv")
        log = None
        explanation_notes: list = []
        explanation = {
            "findings": [
                {"kind": "drop", "row": 3, "text": "The loss fell 50% after the cut."},
                {"kind": "forecast", "row": None, "text": "Forecast: stage 1 run 40 epochs longer ends at 0.0015625."},
            ],
            "events": [], "drops": [], "stages": [],
        }

    forecast = forecast_section(Run(), [])
    assert forecast is not None and forecast.items == ["Forecast: stage 1 run 40 epochs longer ends at 0.00156."]
    assert explanation_section(Run(), []).items == ["The loss fell 50% after the cut."]  # said once, not twice
    Run.explanation = {"findings": [Run.explanation["findings"][0]]}
    assert forecast_section(Run(), []) is None


def test_log_axis_only_over_two_decades():
    assert not spans_decades([0.3, 2.3]) and spans_decades([0.001, 0.1]) and not spans_decades([0.0, 1.0])
    runs = read_log_runs(APPENDED, None)
    assert [r.log.rows for r in runs] == [100, 200] and all(r.explanation for r in runs)


def test_legend_sits_outside_the_plot_area():
    from lrscope.logs.read import read_log
    from lrscope.viz.log_figures import accuracy_figure, loss_rate_figure

    log = read_log(TSV)
    doc = read_log_runs(TSV, None)[0].explanation
    for fig in (loss_rate_figure(log, doc), accuracy_figure(log, doc)):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        assert len(legends) == 1
        box = legends[0].get_window_extent(renderer)
        labels = [t.get_text() for t in legends[0].get_texts()]
        assert "learning-rate decay" in labels
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), labels
