"""``licoat report``: one self-contained HTML file (run and sweep directories), opened in headless Chromium:
it renders, every image decodes (a deliberately broken image is detected, so the check can fail), and the
summary table is present with the run's numbers."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from licoat.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "cases" / "planar.toml"
CHROMIUM = next((shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome") if shutil.which(c)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync"]
PROBE = ('<script>window.addEventListener("load",()=>{const b=[...document.images].filter('
         'i=>!i.complete||i.naturalWidth===0).length;document.body.setAttribute("data-images",document.images.length);'
         'document.body.setAttribute("data-broken",b)})</script></body>')


def _need_chromium():
    if CHROMIUM is None:
        reason = "chromium not installed (Debian: apt-get install -y chromium; .ci/run installs it)"
        print(f"SKIP: {reason}", file=sys.stderr)
        pytest.skip(reason)


def _dom(html: Path, tmp: Path) -> str:
    """The DOM after load, with the image probe injected into a copy of the report."""
    probe = tmp / "probe.html"
    probe.write_text(html.read_text().replace("</body>", PROBE))
    r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=5000",
                        "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def _probe(dom: str) -> tuple[int, int]:
    m = re.search(r'<body[^>]*data-images="(\d+)"[^>]*data-broken="(\d+)"', dom)
    assert m, dom[:500]
    return int(m.group(1)), int(m.group(2))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "run"
    assert main(["run", str(DEFAULT), "--out", str(out), "--quiet", "--set", "geometry.mesh_size='5 um'"]) == 0
    return out


def test_run_report_is_self_contained(run_dir):
    assert main(["report", str(run_dir)]) == 0
    text = (run_dir / "report.html").read_text()
    assert 'id="summary"' in text and "data:image/png;base64," in text
    assert not re.search(r'(src|href)="(?!data:)', text)  # nothing to fetch: no server, no files beside it
    cv = json.loads((run_dir / "summary.json").read_text())["cell_voltage_V"]
    assert f"{cv:.6g}" in text


def test_run_report_renders_in_chromium(run_dir, tmp_path):
    _need_chromium()
    html = run_dir / "report.html"
    if not html.exists():
        assert main(["report", str(run_dir)]) == 0
    dom = _dom(html, tmp_path)
    n, broken = _probe(dom)
    assert n >= 1 and broken == 0
    assert '<table id="summary">' in dom and "cell voltage (V)" in dom
    # the probe can fail: a report with an undecodable image is caught
    bad = tmp_path / "bad.html"
    bad.write_text(html.read_text().replace("</body>", '<img alt="x" src="data:image/png;base64,AAAA"></body>'))
    assert _probe(_dom(bad, tmp_path))[1] == 1
    shot = tmp_path / "shot.png"
    r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--window-size=1200,1600",
                        f"--screenshot={shot}", html.as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and shot.stat().st_size > 10_000  # a page was drawn


def test_sweep_report_renders_in_chromium(tmp_path):
    out = tmp_path / "sw"
    assert main(["sweep", str(DEFAULT), "--out", str(out), "--quiet", "--vary", "coating.thickness=10 nm,50 nm",
                 "--set", "geometry.mesh_size='5 um'"]) == 0
    assert main(["report", str(out), "--out", str(tmp_path / "r.html")]) == 0
    text = (tmp_path / "r.html").read_text()
    assert "run_000" in text and "run_001" in text and 'id="summary"' in text
    _need_chromium()
    dom = _dom(tmp_path / "r.html", tmp_path)
    n, broken = _probe(dom)
    assert n >= 3 and broken == 0  # plots and one plating picture per point
    assert '<table id="summary">' in dom and "10 nm" in dom and "50 nm" in dom


def test_report_of_a_non_result_directory_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a run directory" in capsys.readouterr().err
