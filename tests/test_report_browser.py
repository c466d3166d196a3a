"""The report in a real browser: headless Chromium renders a demo-style report with its sections and figures,
requests nothing from the network and logs no console errors.  Screenshots are kept under test-artifacts/.

Needs Debian's chromium (`make browser`); skipped with a message when it is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lrscope.report.html import write_demo_report
from report_sample import write_sample_run

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
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
def rendered(report, tmp_path_factory):
    """(DOM after rendering, Chromium's log, the page's network requests) from one headless load."""
    tmp = tmp_path_factory.mktemp("chromium")
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
