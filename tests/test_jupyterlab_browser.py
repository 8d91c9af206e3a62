"""02_heads in JupyterLab, in a real browser: a JupyterLab server (token auth on) serving a copy of
notebooks/, headless Chromium driven by Selenium clicks Run > Run All Cells, and the test reads
what a reader sees: every cell executed, no traceback, the circuit drawing, the tables. And the
notebooks as run_all.sh renders them to HTML for reading without running: the index page and a
notebook's page, opened from disk, with its title and its figures.

Needs Debian's `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver); without
them the test is skipped, unless QMTL_REQUIRE_BROWSER is set (CI, .ci/run), where it fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from qmtl_utils.runtime.paths import notebooks_dir, repo_root

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
NOTEBOOK = "02_heads.ipynb"
RUN_TIMEOUT_S = 300
SERVER_TIMEOUT_S = 120

# JupyterLab user settings for the test: every cell kept in the DOM (the default windowing leaves
# off-screen cells unrendered), and no news toast over the page
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}

# what each code cell shows, read from the page in one call
READ_CELLS = """
return Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')).map(cell => ({
  prompt: (cell.querySelector('.jp-InputArea .jp-InputPrompt') || {}).textContent || '',
  source: (cell.querySelector('.jp-InputArea .cm-content') || {}).textContent || '',
  outputs: Array.from(cell.querySelectorAll('.jp-OutputArea-output')).map(o => ({
    mime: o.dataset.mimeType || '', text: o.textContent, tables: o.querySelectorAll('table').length,
    images: o.querySelectorAll('img').length})),
}));
"""
KERNEL_STATUS = (
    "const e = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');return e ? e.dataset.status : null;"
)


def browser_missing() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    return f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)" if missing else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port over a copy of notebooks/ (its autosave writes there);
    yields (base url, token); shut down, kernels included, however the test ends."""
    served = tmp_path / "notebooks"
    shutil.copytree(notebooks_dir(), served, ignore=shutil.ignore_patterns("kernel-ipc-*", ".ipynb_checkpoints"))
    settings = tmp_path / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = dict(
        os.environ,
        QMTL_CACHE_DIR=str(tmp_path / "cache"),
        QMTL_RUNS_DIR=str(tmp_path / "runs"),
        QMTL_FIGURES_DIR=str(tmp_path / "figures"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(repo_root()), os.environ.get("PYTHONPATH")])),
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
    )
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        f"--IdentityProvider.token={token}",
        f"--notebook-dir={served}",
        "--ServerApp.port_retries=0",
    ]
    if os.geteuid() == 0:  # containers and CI often run as root; JupyterLab refuses without this
        command.append("--allow-root")
    log_path = tmp_path / "jupyterlab.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=served, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()}")
            try:
                if api(f"{base}/api/status?token={token}") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {SERVER_TIMEOUT_S} s:\n{log_path.read_text()}")
            time.sleep(0.5)
        assert api(f"{base}/api/status") == 403, "token authentication should be on"
        yield base, token
    finally:
        if server.poll() is None:
            try:  # the server's own shutdown also stops the kernels it started
                api(f"{base}/api/shutdown?token={token}", method="POST")
                server.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                server.terminate()
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition, timeout_s: float, what: str, interval_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def require_browser() -> None:
    """Skip without Debian's chromium and chromedriver (fail instead where QMTL_REQUIRE_BROWSER is set)."""
    missing = browser_missing()
    if missing:
        if os.environ.get("QMTL_REQUIRE_BROWSER"):
            pytest.fail(f"QMTL_REQUIRE_BROWSER is set but {missing}")
        pytest.skip(missing)


def tracebacks(cells: list[dict]) -> list[str]:
    """Error outputs: JupyterLab renders tracebacks (and stderr) with the stderr mime type."""
    return [
        f"cell {c['prompt']} {c['source'][:60]!r}: {o['text'][-600:]}"
        for c in cells
        for o in c["outputs"]
        if o["mime"] == "application/vnd.jupyter.stderr" and ("Traceback" in o["text"] or "Error" in o["text"])
    ]


def screenshot(driver, path: Path, scroll_to_text: str | None = None) -> Path:
    if scroll_to_text is not None:
        driver.execute_script(
            """
            const output = Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output'))
                .find(o => o.textContent.includes(arguments[0]));
            if (output) output.closest('.jp-Cell').scrollIntoView({block: 'start'});""",
            scroll_to_text,
        )
        time.sleep(0.5)
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


@pytest.mark.slow
def test_02_heads_runs_in_jupyterlab(tmp_path, request):
    require_browser()
    from selenium.webdriver.common.by import By

    committed = (notebooks_dir() / NOTEBOOK).read_bytes()
    base, token = request.getfixturevalue("lab")
    driver = request.getfixturevalue("browser")
    start = time.perf_counter()
    driver.get(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
    n_cells = sum(c["cell_type"] == "code" for c in json.loads(committed)["cells"])
    wait_for(
        lambda: driver.execute_script(KERNEL_STATUS) == "idle" and len(driver.execute_script(READ_CELLS)) == n_cells,
        120,
        f"the notebook to open with its {n_cells} code cells and an idle kernel",
    )

    # Run > Run All Cells, as a reader would (Lumino menus carry their command id)
    driver.find_element(By.XPATH, "//div[contains(@class, 'lm-MenuBar-itemLabel') and text()='Run']").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-item[data-command='runmenu:run-all']"), 10, "the Run menu")[
        0
    ].click()

    def finished():
        cells = driver.execute_script(READ_CELLS)
        executed = all(c["prompt"].strip()[1:-2].isdigit() for c in cells)  # "[12]:"; "[*]:" and "[ ]:" are not
        idle = driver.execute_script(KERNEL_STATUS) == "idle"
        return cells if idle and (executed or tracebacks(cells)) else None

    try:
        cells = wait_for(finished, RUN_TIMEOUT_S, "every cell to execute and the kernel to go idle", interval_s=2)
    finally:
        screenshot(driver, tmp_path / "02_heads-last.png")
    elapsed = time.perf_counter() - start
    print(f"02_heads ran in JupyterLab in {elapsed:.0f} s")
    assert not tracebacks(cells), "\n".join(tracebacks(cells))
    assert [c["prompt"].strip() for c in cells] == [f"[{i}]:" for i in range(1, n_cells + 1)]

    def output_of(*snippets: str) -> list[dict]:
        found = [c["outputs"] for c in cells if all(snippet in c["source"] for snippet in snippets)]
        assert found, f"no code cell containing {snippets!r}"
        return found[0]

    # the circuit drawing: qml.draw printed as text, one wire per qubit, Hadamards, the CNOT ladder
    drawing = "".join(o["text"] for o in output_of("print(qml.draw(small_head"))
    assert all(f"{q}: ─" in drawing for q in range(4)), drawing
    assert all(gate in drawing for gate in ("──H──RX──RZ──RY", "╭●", "StronglyEntanglingLayers", "<Z>", "<X@X>")), drawing
    # the simulator against PennyLane: the agreement line and the speed table (printed text)
    assert "max |fast − PennyLane|" in "".join(o["text"] for o in output_of("fast - reference"))
    speed = "".join(o["text"] for o in output_of("simulator_speed.print_table"))
    assert "ours samples/s" in speed and "PennyLane bp" in speed and "parameter shift" in speed, speed
    # the tables rendered as HTML: parameter counts per head, and the scaling against Eqs. (15)-(17)
    counts = output_of("head_parameters.pivot(")
    assert any(o["tables"] and all(v in o["text"] for v in ("classical", "hqnn4", "hqnnQ", "qmtl")) for o in counts)
    scaling = output_of("scaling[", '"n_tasks"', '"ratio_eq17"')
    assert any(o["tables"] and "ratio_eq17" in o["text"] and "qmtl_eq16" in o["text"] for o in scaling)

    screenshot(driver, tmp_path / "02_heads-circuit.png", scroll_to_text="0: ─")
    screenshot(driver, tmp_path / "02_heads-speed.png", scroll_to_text="ours samples/s")
    assert (notebooks_dir() / NOTEBOOK).read_bytes() == committed, "the committed notebook must not change"
    assert json.loads((tmp_path / "notebooks" / NOTEBOOK).read_text())["cells"]  # the served copy, still a notebook


# what a rendered page shows: its title, its first heading, and its images (decoded, with their size)
READ_PAGE = """
const heading = document.querySelector('h1');
return {title: document.title, heading: heading ? heading.textContent : '',
        cells: document.querySelectorAll('.jp-Cell').length, text: document.body.innerText,
        images: Array.from(document.querySelectorAll('.jp-OutputArea-output img')).map(i => ({
          complete: i.complete, width: i.naturalWidth, height: i.naturalHeight, src: i.src.slice(0, 22)}))};
"""


@pytest.mark.slow
def test_rendered_notebooks_open_in_the_browser(tmp_path, request):
    """run_all.sh renders what it executed (02_heads, under smoke, into temporary folders); the
    index opens from disk, links the page, and the page shows the notebook: title, cells, figures."""
    require_browser()
    from selenium.webdriver.common.by import By

    from qmtl_utils.runtime.render import notebook_title

    env = dict(
        os.environ,
        QMTL_CACHE_DIR=str(tmp_path / "cache"),
        QMTL_RUNS_DIR=str(tmp_path / "runs"),
        QMTL_FIGURES_DIR=str(tmp_path / "figures"),
        QMTL_PYTHON=os.environ.get("QMTL_PYTHON") or sys.executable,
    )
    done = subprocess.run(
        ["bash", str(repo_root() / "run_all.sh"), "--profile", "smoke", "--only", "02"],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    index = tmp_path / "runs" / "smoke" / "html" / "index.html"
    assert str(index) in done.stdout.splitlines()[-1]  # run_all says where to read
    title = notebook_title(json.loads((notebooks_dir() / NOTEBOOK).read_text(encoding="utf-8")))
    assert title.startswith("02")

    driver = request.getfixturevalue("browser")
    driver.get(index.as_uri())
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 30, "the index to load")
    assert "executed notebooks" in driver.title and "smoke" in driver.title, driver.title
    links = driver.find_elements(By.CSS_SELECTOR, "table a")
    assert [a.get_attribute("href").rsplit("/", 1)[-1] for a in links] == ["02_heads.html"]
    assert links[0].text == title
    screenshot(driver, tmp_path / "html-index.png")

    links[0].click()
    wait_for(
        lambda: (
            driver.current_url.endswith("/02_heads.html") and driver.execute_script("return document.readyState") == "complete"
        ),
        60,
        "the notebook page to load",
    )
    page = wait_for(
        lambda: (lambda p: p if p["images"] and all(i["complete"] for i in p["images"]) else None)(
            driver.execute_script(READ_PAGE)
        ),
        30,
        "the page's images to load",
    )
    screenshot(driver, tmp_path / "html-02_heads.png")
    assert page["title"] == f"{title} (smoke)"
    assert title in page["heading"]
    n_cells = len(json.loads((notebooks_dir() / NOTEBOOK).read_text(encoding="utf-8"))["cells"])
    assert page["cells"] == n_cells + 1, "every cell, and papermill's injected parameters"
    # the figures (circuits drawn with qml.draw_mpl, the architecture diagram) are images the browser decoded
    assert len(page["images"]) >= 3, page["images"]
    assert all(i["width"] > 100 and i["height"] > 50 and i["src"] == "data:image/png;base64," for i in page["images"])
    assert "StronglyEntanglingLayers" in page["text"] and "Traceback" not in page["text"]

    driver.find_element(By.CSS_SELECTOR, "a[href='index.html']").click()  # and back to the index
    wait_for(lambda: driver.current_url.endswith("/index.html"), 30, "the way back to the index")
