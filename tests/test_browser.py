"""A real browser (headless Chromium) opens the run report and the comparison page.

Checks what a person would see: every <audio> element loads with a positive duration and
every image decodes. The pages are copied with a small probe script appended (the product's
pages stay as they are); Chromium runs the probe and prints the DOM.
"""

import json
import re
import subprocess

import pytest

from audiostyle.run.context import RunContext
from audiostyle.run.runner import run

from conftest import CHROMIUM, needs_chromium

pytestmark = [pytest.mark.slow, needs_chromium()]

PROBE = """<script>
window.addEventListener('load', () => {
  const audios = [...document.querySelectorAll('audio')];
  const check = () => {
    const out = {audio: audios.map(a => a.duration), images: [...document.images].map(i => i.complete && i.naturalWidth > 0)};
    const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  };
  Promise.all(audios.map(a => a.readyState >= 1 ? 0 : new Promise(r => { a.onloadedmetadata = r; a.onerror = r; a.load(); })))
    .then(check);
});
</script>"""


def browser_probe(page, tmp_path) -> dict:
    probed = tmp_path / f"probe_{page.name}"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chrome-profile'}",
            "--autoplay-policy=no-user-gesture-required",
            "--virtual-time-budget=15000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout)
    assert found, proc.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"'))


def test_report_and_comparison_play_and_show_in_chromium(compose_config, tmp_path):
    from audiostyle.commands import compare

    ids = []
    for alpha in (1, 10):
        cfg = compose_config("tracking=mlflow", f"runs_dir={tmp_path}", f"alpha={alpha}")
        run(cfg, RunContext(run_dir=tmp_path / f"run{alpha}"))
    result = browser_probe(tmp_path / "run1" / "report.html", tmp_path)
    # x_G, x_C, x_S, the mix, and the snapshots 0 and 2 (TINY's); each plays
    assert len(result["audio"]) == 6 and all(d > 0.05 for d in result["audio"]), result
    assert result["images"] and all(result["images"]), result

    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    ids = [
        r.info.run_id
        for r in client.search_runs([client.get_experiment_by_name("audiostyle").experiment_id])
    ]
    out = tmp_path / "compare.html"
    assert compare.main([*ids, "--tracking-uri", uri, "--out", str(out)]) == 0
    result = browser_probe(out, tmp_path)
    assert len(result["audio"]) == 2 and all(d > 0.05 for d in result["audio"]), result
    assert len(result["images"]) == 2 and all(result["images"]), result
