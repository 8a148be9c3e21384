"""The comparative report in a real browser: Debian's Chromium driven by Playwright.

A small real batch is built first (three small scenarios, one of them with a hostile label,
one lesson notebook, two replications, then notebooks/strategy_report.ipynb), its folder is served
over http on localhost, and the report is checked as a reader gets it at 1366×768: it loads
without errors, the title and the first summary block are above the fold, every link leads to a
file that exists, nothing overflows sideways, and the hostile label shows as plain text.

Slow (a minute or more: the batch runs real notebooks), so `make test-extended` runs it, not
`make test`. Its screenshots (full page, and the first 1366×768) go to reports/browser-test/,
git-ignored like the rest of reports/; ``SIMLIB_UPDATE_SCREENSHOT=1`` also copies the first screen (the
summary a reader sees on opening the report) to reports/screenshot.png, the README's picture.
"""

from __future__ import annotations

import functools
import os
import shutil
import struct
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request, sync_playwright

from simlib import plots, report
from simlib.param_layers import deep_merge, read_yaml

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "reports" / "screenshot.png"
OUTPUT = REPO / "reports" / "browser-test"
VIEWPORT = {"width": 1366, "height": 768}
# Flags for a closed network: without the background-networking ones, Chromium's own connections
# (updates, sync, safe browsing) are refused here, many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
HOSTILE_LABEL = r"<img src=x onerror=alert(1)>$\alpha$ 恶意标签"
# The report's summary: the one screen that answers the question (simlib.report.summary).
SUMMARY_SELECTOR = "#summary"
FIRST_BLOCK_AFTER_TITLE = "xpath=following::p[1]"

DAYS = 120
SCENARIOS = {  # file name → label, and what differs from the smoke scenario besides the length
    "baseline": ("基线 Baseline", {}),
    "untiered": ("不分层 No tiering", {"tiering": {"enabled": False}}),
    "hostile": (HOSTILE_LABEL, {"simulation": {"initial_members": 100}}),
}
BATCH = """\
name: browser check
scenarios: [baseline, untiered, hostile]
notebooks: [01_member_tiering]
report_notebook: strategy_report
replications: 2
seed: 20261125
workers: 2
timeout_s: 300
start_timeout_s: 180
lang: zh
"""


# --------------------------------------------------------------------------- the browser


def chromium_path() -> str:
    """Debian's Chromium, or skip (fail under CI=true) with how to get it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = ("Chromium not found: `apt-get install chromium` (Debian) or run `.ci/run`, which "
                   "installs it; the browser test drives the system's Chromium, not a downloaded one")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium; Playwright gives each launch a fresh, empty profile folder."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# --------------------------------------------------------------------------- the report


def _write_scenarios(folder: Path) -> None:
    """The smoke scenario (80 members) changed as :data:`SCENARIOS` says and run for :data:`DAYS`
    days: long enough for every KPI of the report, 90-day retention included."""
    smoke = read_yaml(REPO / "params" / "scenarios" / "smoke.yaml")
    folder.mkdir()
    for name, (label, changes) in SCENARIOS.items():
        scenario = deep_merge(smoke, {"simulation": {"days": DAYS}}, source="the browser test")
        scenario = deep_merge(scenario, changes, source=f"the browser test's scenario {name!r}")
        scenario.update(label=label, description="浏览器测试的小场景 (a small scenario of the browser test)")
        text = yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False)
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def _run_batch(batch_file: Path, scenarios: Path, reports: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "simlib.cli", "batch", str(batch_file), "--no-progress",
               "--notebooks-dir", str(REPO / "notebooks"), "--scenarios-dir", str(scenarios),
               "--reports-dir", str(reports)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def report_folder(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real batch folder: runs, their notebook.html pages and the report's index.html.

    It asks for the browser first, so that a machine without Chromium skips before the batch runs.
    """
    root = tmp_path_factory.mktemp("browser")
    _write_scenarios(root / "scenarios")
    batch_file = root / "batch.yaml"
    batch_file.write_text(BATCH, encoding="utf-8")
    reports = root / "reports"
    result = _run_batch(batch_file, root / "scenarios", reports)
    if result.returncode == 1:
        # A kernel can lose its port to another process while starting (jupyter_client picks a
        # free port, then binds it). A second call re-runs only the failed runs, then the report.
        warnings.warn(f"the batch failed once; running its failed runs again:\n{result.stdout}", stacklevel=1)
        result = _run_batch(batch_file, root / "scenarios", reports)
    assert result.returncode == 0, f"the batch failed:\n{result.stdout}\n{result.stderr}"
    folders = [p.parent for p in reports.glob("*/index.html") if not p.parent.is_symlink()]
    assert len(folders) == 1, folders
    return folders[0]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Silent: pytest's output is no place for an access log."""


@pytest.fixture(scope="module")
def base_url(report_folder: Path) -> Iterator[str]:
    """The reports folder (the batch folder's parent) served on localhost."""
    handler = functools.partial(_QuietHandler, directory=str(report_folder.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class PageLog:
    """What the browser reported while a page loaded."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def watch(self, page: Page, origin: str) -> None:
        """Record errors and dialogs; let only requests to ``origin`` (or data: URLs) through."""

        def route(route, request: Request) -> None:
            if request.url.startswith((origin, "data:")):
                route.continue_()
            else:
                self.outside_requests.append(request.url)
                route.abort()

        def console(message: ConsoleMessage) -> None:
            # a blocked request to another site is reported by the test for outside requests
            if message.type == "error" and message.location.get("url") not in self.outside_requests:
                self.console_errors.append(f"{message.text} ({message.location.get('url')})")

        def failed(request: Request) -> None:
            if request.url not in self.outside_requests:
                self.failed_requests.append(f"{request.url}: {request.failure}")

        def response(answer) -> None:
            if answer.status >= 400:
                self.failed_requests.append(f"{answer.url}: HTTP {answer.status}")

        def dialog(opened) -> None:
            self.dialogs.append(f"{opened.type}: {opened.message}")
            opened.dismiss()

        page.route("**/*", route)
        page.on("console", console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("requestfailed", failed)
        page.on("response", response)
        page.on("dialog", dialog)


@dataclass
class LoadedReport:
    page: Page
    log: PageLog
    url: str


def _open(browser: Browser, url: str, origin: str) -> tuple[Page, PageLog]:
    page = browser.new_page(viewport=VIEWPORT)
    log = PageLog()
    log.watch(page, origin)
    page.goto(url, wait_until="load")
    return page, log


@pytest.fixture(scope="module")
def loaded(browser: Browser, report_folder: Path, base_url: str) -> Iterator[LoadedReport]:
    """The report open at 1366×768, with its two screenshots taken."""
    url = f"{base_url}{report_folder.name}/index.html"
    page, log = _open(browser, url, base_url)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=OUTPUT / "report-1366x768.png")
    page.screenshot(path=OUTPUT / "report-full.png", full_page=True)
    if os.environ.get("SIMLIB_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(OUTPUT / "report-1366x768.png", SCREENSHOT)
    yield LoadedReport(page, log, url)
    page.close()


# --------------------------------------------------------------------------- checks


def test_report_loads_without_errors(loaded: LoadedReport):
    log = loaded.log
    assert log.page_errors == [], "uncaught JavaScript errors"
    assert log.console_errors == [], "errors in the console"
    assert log.failed_requests == [], "requests that failed or answered 4xx/5xx"
    assert log.dialogs == []


def test_report_needs_nothing_from_the_network(loaded: LoadedReport):
    assert loaded.log.outside_requests == [], "requests to other sites"


def _assert_above_the_fold(name: str, locator: Locator) -> None:
    """``locator``'s first element is visible and lies wholly inside the first 768 px."""
    assert locator.count() >= 1, f"no {name}"
    assert locator.first.is_visible(), f"the {name} is not visible"
    box = locator.first.bounding_box()
    assert box is not None and box["height"] > 0, (name, box)
    assert 0 <= box["y"] and box["y"] + box["height"] <= VIEWPORT["height"], (name, box)


def test_title_and_first_block_are_above_the_fold(loaded: LoadedReport):
    page = loaded.page
    page.evaluate("window.scrollTo(0, 0)")
    title = page.locator("h1").first
    assert "策略报告" in title.inner_text()
    first_block = title.locator(FIRST_BLOCK_AFTER_TITLE)
    assert first_block.inner_text().strip(), "the first paragraph after the title is empty"
    _assert_above_the_fold("title", title)
    _assert_above_the_fold("first block after the title", first_block)


def test_summary_is_above_the_fold(loaded: LoadedReport):
    page = loaded.page
    assert page.locator(SUMMARY_SELECTOR).count() == 1, f"no single {SUMMARY_SELECTOR} element"
    page.evaluate("window.scrollTo(0, 0)")
    _assert_above_the_fold(f"summary ({SUMMARY_SELECTOR})", page.locator(SUMMARY_SELECTOR))
    summary = page.locator(SUMMARY_SELECTOR).inner_text()
    assert "结论 (verdict)" in summary and "有多确定 (how sure)" in summary
    assert page.title() == "多方案对比策略报告 (comparative strategy report) · browser check"


def _links(page: Page) -> list[dict]:
    return page.eval_on_selector_all(
        "a[href]", "links => links.map(a => ({href: a.getAttribute('href'), url: a.href}))")


def test_every_link_leads_to_an_existing_file(loaded: LoadedReport, base_url: str):
    page = loaded.page
    links = _links(page)
    assert any(link["href"].endswith("notebook.html") for link in links), links
    broken = []
    for link in links:
        href, url = link["href"], link["url"]
        if href.startswith("#"):
            target = unquote(href[1:])
            if page.evaluate("id => document.getElementById(id) === null", target):
                broken.append(f"{href}: no element with this id")
        elif not url.startswith(base_url):
            broken.append(f"{href}: leaves the reports folder")
        else:
            status = page.request.get(url).status
            if status != 200:
                broken.append(f"{href}: HTTP {status}")
    assert broken == []


def test_no_horizontal_overflow_at_1366px(loaded: LoadedReport):
    page = loaded.page
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    # The outermost elements reaching past the right edge: what to fix if the page overflows.
    overflowing = page.evaluate("""() => {
        const edge = window.innerWidth;
        const past = el => el.getBoundingClientRect().right > edge + 0.5;
        return [...document.body.querySelectorAll('*')]
            .filter(el => past(el) && !(el.parentElement && past(el.parentElement)))
            .slice(0, 10)
            .map(el => `<${el.tagName.toLowerCase()} id="${el.id}" class="${el.className}"> ` +
                       `right=${Math.round(el.getBoundingClientRect().right)}px: ` +
                       el.innerText.slice(0, 60).replace(/\\s+/g, ' '));
    }""")
    assert widths[0] <= widths[1], f"page {widths[0]} px wide in a {widths[1]} px window: {overflowing}"


def _injected_elements(page: Page) -> list[str]:
    """Elements or behaviour that the hostile label would create if it were not escaped."""
    return page.evaluate("""() => [
        ...document.querySelectorAll('img[src="x"], [onerror]'),
        ...document.querySelectorAll('.MathJax, mjx-container, .katex'),
    ].map(el => el.outerHTML.slice(0, 120))""")


def test_hostile_label_renders_as_text(loaded: LoadedReport):
    page = loaded.page
    assert HOSTILE_LABEL in page.locator("body").inner_text()
    assert page.get_by_text(HOSTILE_LABEL).first.is_visible()
    assert _injected_elements(page) == []
    assert loaded.log.dialogs == []


def test_hostile_label_renders_as_text_in_the_linked_run_pages(
    loaded: LoadedReport, browser: Browser, base_url: str
):
    links = _links(loaded.page)
    assert any("/hostile__" in link["url"] for link in links), "no link to the hostile scenario's run"
    problems = []
    for link in links:
        if link["url"].startswith(base_url) and urlsplit(link["url"]).path.endswith(".html"):
            linked, log = _open(browser, link["url"], base_url)
            problems += [f"{link['href']}: {found}" for found in _injected_elements(linked) + log.dialogs]
            shown = HOSTILE_LABEL in linked.locator("body").inner_text()
            if "/hostile__" in link["url"] and not shown:  # the run of the hostile scenario
                problems.append(f"{link['href']}: the label is not shown as text")
            linked.close()
    assert problems == []


def test_plots_have_chinese_labels_where_a_cjk_font_is_installed(loaded: LoadedReport):
    english_note = report.text("plot_lang_note", "zh")
    shown = english_note in loaded.page.locator("body").inner_text()
    if plots.find_cjk_font() is None:
        assert shown, "without a CJK font the report says its plots fall back to English"
    else:
        assert not shown, f"a CJK font ({plots.find_cjk_font()}) is installed, yet the plots are in English"
    assert loaded.page.locator("img").count() >= 2  # the KPI bars and the tier mix, at least


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (its IHDR chunk)."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_screenshots_show_the_fold_and_the_whole_page(loaded: LoadedReport):
    height = loaded.page.evaluate("document.documentElement.scrollHeight")
    assert _png_size(OUTPUT / "report-1366x768.png") == (VIEWPORT["width"], VIEWPORT["height"])
    assert _png_size(OUTPUT / "report-full.png") == (VIEWPORT["width"], height)
