"""The report in a real browser: headless Chromium renders a demo-style report and a report of a log lrscope did
not write (a real TSV) with their sections and figures, requests nothing from the network and logs no console
errors; every figure's axes carry at least two labelled ticks (read from the rendered SVG).  Screenshots are
kept under test-artifacts/.

Needs Debian's chromium (`make browser`); skipped with a message when it is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lrscope.report.html import build_report, write_demo_report
from report_sample import write_sample_run

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
REAL_LOG = ROOT.parent / "shared" / "data" / "real-logs" / "bearpaw-cifar10-resnet110.tsv"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None:
    pytest.skip(
        "chromium is not installed (run `make browser`); skipping the browser test", allow_module_level=True
    )


def chromium(tmp: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / ('profile-' + name)}", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    demo = tmp_path_factory.mktemp("browser") / "demo"
    write_sample_run(demo / "step")
    write_sample_run(demo / "onecycle", schedule="onecycle(0.4, total=20)", extras=False)
    return write_demo_report(demo)


@pytest.fixture(scope="module")
def log_report(tmp_path_factory) -> Path:
    if not REAL_LOG.exists():
        pytest.skip("the shared real logs are not here")
    return build_report(REAL_LOG, tmp_path_factory.mktemp("browser-log") / "log-report.html")


def render(report: Path, tmp: Path):
    """(DOM after rendering, Chromium's log, the page's network requests) from one headless load."""
    netlog = tmp / "netlog.json"
    result = chromium(
        tmp,
        "dom",
        "--enable-logging=stderr",
        "--v=0",
        f"--log-net-log={netlog}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        report.as_uri(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr, page_requests(netlog)


@pytest.fixture(scope="module")
def rendered(report, tmp_path_factory):
    return render(report, tmp_path_factory.mktemp("chromium"))


@pytest.fixture(scope="module")
def rendered_log(log_report, tmp_path_factory):
    return render(log_report, tmp_path_factory.mktemp("chromium-log"))


def _tick_label(text: str) -> bool:
    """A tick label: a number, as Matplotlib writes it in the SVG's comments (mathtext or plain)."""
    bare = text.replace("\\mathdefault", "").replace("\\times", "×")
    bare = re.sub(r"[${}\\]", "", bare)
    return bool(re.fullmatch(r"[\s\d.,+\-−×^e]+", bare)) and any(c.isdigit() for c in bare)


def _comments(element) -> list[str]:
    return [str(e.text).strip() for e in element.iter() if e.tag is ET.Comment and e.text]


def axis_labels(dom: str) -> list[tuple[int, list[str], list[str]]]:
    """For every axis of every figure: (figure number, its tick labels, its axis label's words), read from the
    comments Matplotlib writes beside each drawn text."""
    out = []
    for k, svg in enumerate(re.findall(r"<svg\b.*?</svg>", dom, re.S)):
        if "xmlns:xlink" not in svg[: svg.index(">")]:  # the page drops it (the HTML parser knows xlink)
            svg = svg.replace("<svg", '<svg xmlns:xlink="http://www.w3.org/1999/xlink"', 1)
        root = ET.fromstring(svg, parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
        for axis in root.iter("g"):
            if not axis.get("id", "").startswith("matplotlib.axis_"):
                continue
            ticks, words = [], []
            for child in axis:
                ident = child.get("id", "")
                if ident.startswith(("xtick_", "ytick_")):
                    ticks += [c for c in _comments(child) if _tick_label(c)]
                elif ident.startswith("text_"):
                    words += _comments(child)
            out.append((k, ticks, words))
    return out


def page_requests(netlog: Path) -> list[str]:
    """URLs the page itself asked for (its network isolation key or initiator is the file:// page), not the
    browser's own background traffic."""
    if not netlog.exists():
        return []
    try:
        log = json.loads(netlog.read_text(errors="replace"))
    except ValueError:  # a net log cut short: close it the way Chromium would have
        log = json.loads(netlog.read_text(errors="replace").rstrip().rstrip(",") + "]}")
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        if names.get(event.get("type")) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        from_page = (
            "file://" in str(params.get("network_isolation_key", "")) or params.get("initiator") == "null"
        )
        if from_page and not params["url"].startswith(("file:", "data:")):
            urls.append(params["url"])
    return urls


def test_no_external_resources_in_the_html(report):
    page = report.read_text(encoding="utf-8")
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.I)
    assert not re.findall(r"""url\(\s*["']?(?:https?:)?//""", page, re.I)
    assert "<link" not in page.lower() and "<script" not in page.lower()


def test_no_network_requests(rendered):
    _, _, requests = rendered
    assert requests == []


def test_no_console_errors(rendered):
    _, log, _ = rendered
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert console == []


def test_sections_and_figures_render(rendered):
    dom, _, _ = rendered
    figures = re.findall(r"<(img|svg|canvas)\b", dom, re.I)
    assert len(figures) >= 8  # comparison, step: schedule, curves, noise x2, plane, sharpness; onecycle: 2
    ids = set(re.findall(r'<section id="([^"]+)"', dom))
    assert {
        "comparison",
        "step-schedule",
        "step-curves",
        "step-explanation",
        "step-noise",
        "onecycle-curves",
    } <= ids
    text = re.sub(r"<[^>]+>", " ", dom).lower()
    for words in ("schedule", "learning rate", "explanation", "loss", "the runs compared"):
        assert words in text


def test_log_report_renders(rendered_log):
    dom, log, requests = rendered_log
    assert requests == [] and [line for line in log.splitlines() if ":CONSOLE" in line] == []
    assert len(re.findall(r"<svg\b", dom)) >= 2
    text = re.sub(r"<[^>]+>", " ", dom).lower()
    for words in ("learning rate", "explanation", "loss", "epoch 82", "stages at a constant rate"):
        assert words in text, words


@pytest.mark.parametrize("which", ["rendered", "rendered_log"])
def test_every_labelled_axis_has_two_tick_labels(which, request):
    dom = request.getfixturevalue(which)[0]
    axes = axis_labels(dom)
    assert axes
    for figure, ticks, words in axes:
        if ticks or words:  # an axis hidden under a shared one has neither
            assert len(ticks) >= 2, (figure, ticks, words)


@pytest.mark.parametrize("name, size", [("report-desktop", "1280,4000"), ("report-phone", "390,3000")])
def test_screenshot_is_kept(report, tmp_path, name, size):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    result = chromium(tmp_path, name, f"--window-size={size}", f"--screenshot={shot}", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == tuple(int(v) for v in size.split(","))
        colours = im.convert("RGB").resize((64, 64)).getcolors(64 * 64)
    assert colours is None or len(colours) > 20  # not a blank page
