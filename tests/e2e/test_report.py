"""`tuner report` on a job run through the offline loop, opened in headless Chromium.

Chromium is Debian's `chromium` package (`apt-get install -y chromium`); without it the rendering
test is skipped with that reason. The page must render every chart from its embedded data (no
network): body[data-charts-rendered] counts the decoded <img> charts, and a screenshot must not be
blank."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tuner import cli
from tuner.local import offline_client
from tuner.report import CHARTS, NO_STORE

from tests.builders import SCRIPTS, categorical, continuous, tuning_request

pytestmark = pytest.mark.e2e
pytest.importorskip("matplotlib")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def headless(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    assert exe
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp / 'chromium-profile'}",
    ]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report_dir(local_tuner, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    with offline_client(local_tuner=local_tuner, sweep_interval=2.0) as sm:
        ranges = {**continuous(0.5, 8, scaling="Logarithmic"), **categorical("0", "5", "50", name="y")}
        request = tuning_request("report-e2e", source="quick", max_jobs=6, max_parallel=3, ranges=ranges)
        sm.start_local(request, SCRIPTS)
        assert (
            sm.wait_for_tuning_job("report-e2e", poll=0.5, timeout=180)["HyperParameterTuningJobStatus"]
            == "Completed"
        )
        assert cli.main(["report", "report-e2e", "--region", "us-east-1", "--out", str(out)]) == 0
    return out


def test_report_files(report_dir):
    page = (report_dir / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(CHARTS)
    assert "src='http" not in page and "href='http" not in page and "<link" not in page
    for file, _ in CHARTS:
        assert (report_dir / file).stat().st_size > 5000
    assert page.count("report-e2e-") >= 6  # the jobs table
    # `tuner report` through the tuner's client reads its store: series for the learning curves
    assert NO_STORE not in page


def test_report_renders_in_headless_chromium(report_dir, tmp_path):
    if chromium() is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install -y chromium)")
    url = (report_dir / "index.html").resolve().as_uri()
    dom = headless(tmp_path, "--virtual-time-budget=5000", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert f'data-charts-rendered="{len(CHARTS)}"' in dom.stdout
    shot = tmp_path / "page.png"
    r = headless(tmp_path, "--window-size=1280,2400", "--hide-scrollbars", f"--screenshot={shot}", url)
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(shot)[..., :3]
    # not blank: many distinct colours (charts), and a good share of non-white pixels
    assert len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50
    assert (pixels.mean(axis=2) < 0.95).mean() > 0.02
