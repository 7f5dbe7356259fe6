"""The report renders in headless Chromium: every chart drew, no console errors, nothing fetched.

Drives Chromium through the DevTools protocol (websockets, already in the pinned set), no selenium. Skips with
a reason when Chromium is not installed. The end-to-end test (test_serving_pipeline.py) uses the same check on
the demo organisation's report and saves the screenshot docs/img/report.png that the README shows.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from test_serving_support import REPORT_TODAY, build_duckdb_marts, sample_settings

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """A minimal DevTools protocol client: commands by id, events collected as they arrive."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.socket = connect(url, max_size=None, open_timeout=30)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, timeout: float = 60, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=timeout))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            message = json.loads(self.socket.recv(timeout=timeout))
            self.events.append(message)
            if message.get("method") == method:
                return message

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details.get("text"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(
                    " ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"])
                )
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def browser():
    executable = _chromium()
    if executable is None:
        pytest.skip("Chromium not installed (apt-get install chromium): report rendering not checked")
    pytest.importorskip("websockets", reason="websockets is needed to drive Chromium over DevTools")
    profile = tempfile.mkdtemp(prefix="doraflow-chromium-")
    process = subprocess.Popen(
        [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        for line in process.stderr:  # Chromium prints its DevTools address once it listens
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                url = match.group(1)
                break
        assert url, "Chromium did not start its DevTools endpoint"
        # Keep draining stderr so Chromium never blocks on a full pipe.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _open_page(browser_url: str) -> DevTools:
    browser = DevTools(browser_url)
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    browser.close()
    page_url = re.sub(r"/devtools/browser/.*$", f"/devtools/page/{target}", browser_url)
    return DevTools(page_url)


def render_in_chromium(
    browser_url: str, report: Path, screenshot: Path | None = None, *, width: int = 1280
) -> dict:
    """Open `report`, wait for every chart; check no console error and no network fetch; return the counts."""
    html = report.read_text(encoding="utf-8")
    assert "<script src=" not in html and "<link " not in html  # self-contained: nothing to fetch
    expected_charts = int(re.search(r'data-chart-count="(\d+)"', html).group(1))
    page = _open_page(browser_url)
    try:
        page.call("Runtime.enable")
        page.call("Log.enable")
        page.call("Page.enable")
        page.call("Network.enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=1800,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        page.call("Page.navigate", url=report.as_uri())
        page.wait_for("Page.loadEventFired")
        result = page.call(
            "Runtime.evaluate",
            expression=(
                "window.doraflowChartsReady.then(() => JSON.stringify({"
                "plots: document.querySelectorAll('.js-plotly-plot').length,"
                "drawn: Array.from(document.querySelectorAll('.js-plotly-plot'))"
                "  .filter(p => p.querySelector('.main-svg')"
                "    && p.querySelectorAll('.trace').length > 0).length,"
                "cards: document.querySelectorAll('.scorecard .card').length}))"
            ),
            awaitPromise=True,
            returnByValue=True,
        )
        assert "exceptionDetails" not in result, result
        counts = json.loads(result["result"]["value"])
        assert counts["plots"] == counts["drawn"] == expected_charts, counts
        assert page.errors() == []
        requested = [
            event["params"]["request"]["url"]
            for event in page.events
            if event.get("method") == "Network.requestWillBeSent"
        ]
        assert requested and all(url.startswith(("file:", "data:")) for url in requested), requested

        shot = page.call(
            "Page.captureScreenshot",
            format="png",
            clip={"x": 0, "y": 0, "width": width, "height": 1800, "scale": 1},
        )
        png = base64.b64decode(shot["data"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(png)
        return counts
    finally:
        page.close()


def test_report_draws_every_chart_without_console_errors(tmp_path, browser):
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse)
    from doraflow.publish import build_serving_copy
    from doraflow.report import write_report

    build_serving_copy(settings, settings.serving_path, tmp_path)
    report = write_report(settings, today=REPORT_TODAY)
    counts = render_in_chromium(browser, report, tmp_path / "report.png")
    # organisation 5 + services 5 + teams 5 (one trend chart per DORA metric each); five scorecard cards
    assert counts == {"plots": 15, "drawn": 15, "cards": 5}
    assert (tmp_path / "report.png").stat().st_size > 50_000


LAYOUT_PROBE = """
window.doraflowChartsReady.then(() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const wraps = Array.from(document.querySelectorAll('.tablewrap')).map((el) => ({
    right: el.getBoundingClientRect().right, client: el.clientWidth, scroll: el.scrollWidth,
    overflowX: getComputedStyle(el).overflowX}));
  const labels = [];
  document.querySelectorAll('.js-plotly-plot').forEach((plot) => {
    const bars = Array.from(plot.querySelectorAll('.bars .point path')).map(box)
      .filter((b) => b.right > b.left && b.bottom > b.top);
    plot.querySelectorAll('.annotation').forEach((a) => {
      if (a.textContent.trim() !== 'target') return;
      const label = box(a.querySelector('.annotation-text') || a);
      const area = plot.querySelector('.nsewdrag');
      labels.push({chart: plot.dataset.chart, bars: bars.length,
                   overlapsBar: bars.some((b) => overlap(label, b)),
                   overlapsPlotArea: area ? overlap(label, box(area)) : null,
                   insidePlot: label.right <= box(plot).right + 0.5});
    });
  });
  const wide = Array.from(document.querySelectorAll('body *'))
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5 && !el.closest('.tablewrap'))
    .slice(0, 5).map((el) => el.tagName.toLowerCase() + '.' + el.className + ' ' + el.getBoundingClientRect().right);
  return JSON.stringify({viewport: window.innerWidth, page: document.documentElement.scrollWidth, wide: wide,
                         height: document.documentElement.scrollHeight, wraps: wraps, labels: labels});
})
"""


def layout_in_chromium(browser_url: str, report: Path, width: int, screenshot: Path | None = None) -> dict:
    """Open `report` at `width` CSS pixels, measure the layout (LAYOUT_PROBE), save a full-page screenshot."""
    page = _open_page(browser_url)
    try:
        page.call("Runtime.enable")
        page.call("Page.enable")
        # A window `width` CSS pixels wide. Not mobile emulation: its zoom-out-to-fit would widen the layout
        # viewport over any overflow, hiding exactly what this measures (and it does so depending on timing).
        page.call(
            "Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False
        )
        page.call("Page.navigate", url=report.as_uri())
        page.wait_for("Page.loadEventFired")
        result = page.call("Runtime.evaluate", expression=LAYOUT_PROBE, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in result, result
        layout = json.loads(result["result"]["value"])
        assert page.errors() == []
        if screenshot is not None:  # the whole page, in parts a person can look at: <name>-1.png, -2.png, ...
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            part_height = 1400
            for index, top in enumerate(range(0, min(layout["height"], 14000), part_height), start=1):
                shot = page.call(
                    "Page.captureScreenshot",
                    format="png",
                    captureBeyondViewport=True,
                    clip={"x": 0, "y": top, "width": width, "height": part_height, "scale": 1},
                )
                path = screenshot.with_name(f"{screenshot.stem}-{index}{screenshot.suffix}")
                path.write_bytes(base64.b64decode(shot["data"]))
        return layout
    finally:
        page.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_report_layout_at_desktop_and_phone_width(tmp_path, browser, width):
    """Nothing is cut off: the page never scrolls sideways, wide tables scroll inside their own box, and the
    "target" label of a chart sits clear of its bars. Screenshots: <tmp>/report-<width>.png."""
    warehouse = tmp_path / "dora.duckdb"
    build_duckdb_marts(warehouse)
    settings = sample_settings(warehouse)
    from doraflow.publish import build_serving_copy
    from doraflow.report import write_report

    build_serving_copy(settings, settings.serving_path, tmp_path)
    report = write_report(settings, today=REPORT_TODAY)
    layout = layout_in_chromium(browser, report, width, tmp_path / f"report-{width}.png")
    assert layout["viewport"] == width, layout
    assert layout["page"] <= width, layout  # no sideways scrolling of the whole page
    assert layout["wraps"], "the report has tables"
    for wrap in layout["wraps"]:
        assert wrap["right"] <= width + 0.5, wrap  # each table box ends inside the window...
        if wrap["scroll"] > wrap["client"]:  # ...and a wider table scrolls inside it
            assert wrap["overflowX"] in ("auto", "scroll"), wrap
    assert any(wrap["scroll"] > wrap["client"] for wrap in layout["wraps"]), "no wide table was tried"
    assert layout["labels"], "no chart with a target was drawn"
    for label in layout["labels"]:
        # Outside the plotting area altogether, so no bar or point can ever be under it, whatever the data.
        assert label["overlapsPlotArea"] is False, label
        assert not label["overlapsBar"], label
        assert label["insidePlot"], label  # not cut off at the chart's right edge either


# A phone, not a narrow window: Chromium's own mobile emulation (layout viewport from <meta name=viewport>,
# device pixels 3x, touch, a phone's user agent), as a person opening the report on their phone sees it.
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
PHONE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
MIN_FONT_PX = 12  # the smallest legible text on a phone (Lighthouse's "legible font sizes" audit uses 12 px)

PHONE_PROBE = """
(async () => {
  if (window.doraflowChartsReady) await window.doraflowChartsReady;
  const layout = document.documentElement.clientWidth;  // the layout viewport, whatever the pinch zoom
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left + scrollX, right: r.right + scrollX, width: r.width, height: r.height}; };
  const shown = (el) => { const b = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return b.width > 0 && b.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const outside = Array.from(document.querySelectorAll('body *'))
    .filter((el) => shown(el) && !el.closest('.tablewrap') && box(el).right > layout + 0.5)
    .slice(0, 5).map((el) => name(el) + ' right ' + box(el).right);
  const wraps = Array.from(document.querySelectorAll('.tablewrap')).map((el) => ({
    table: (el.querySelector('table') || {dataset: {}}).dataset.table || null, right: box(el).right,
    client: el.clientWidth, scroll: el.scrollWidth, overflowX: getComputedStyle(el).overflowX}));
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const rect = (el) => el.getBoundingClientRect();
  const charts = Array.from(document.querySelectorAll('.js-plotly-plot')).map((plot) => {
    const svg = plot.querySelector('.main-svg');
    const legend = plot.querySelector('.legend .bg');
    const scrollbar = plot.querySelector('.legend .scrollbar');
    const texts = ['.gtitle', '.xtitle', '.ytitle', '.xtick text', '.ytick text']
      .flatMap((selector) => Array.from(plot.querySelectorAll(selector)));
    return {chart: plot.dataset.chart || plot.id, left: box(plot).left, right: box(plot).right,
            svgWidth: svg ? svg.getBoundingClientRect().width : null, width: box(plot).width,
            traces: plot.querySelectorAll('.trace').length,
            // the legend must not cover the title, axis titles or tick labels, nor need its own scrollbar
            legendCovers: legend ? texts.filter((el) => overlap(rect(legend), rect(el)))
              .map((el) => el.textContent.slice(0, 30)) : [],
            legendScrolls: !!scrollbar && rect(scrollbar).height > 0};
  });
  const small = [];
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (texts.nextNode()) {
    const node = texts.currentNode; const el = node.parentElement;
    if (!node.textContent.trim() || !el || !shown(el)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    const found = name(el) + ' ' + size + 'px: ' + node.textContent.trim().slice(0, 30);
    if (size < MIN_FONT_PX && !small.includes(found)) small.push(found);
  }
  return JSON.stringify({layout: layout, page: document.documentElement.scrollWidth, outside: outside,
    height: document.documentElement.scrollHeight, wraps: wraps, charts: charts, small: small.slice(0, 10),
    dpr: window.devicePixelRatio, touchPoints: navigator.maxTouchPoints, touch: 'ontouchstart' in window,
    mobileAgent: /Mobile/.test(navigator.userAgent), textLength: document.body.innerText.trim().length,
    valueStream: !!document.querySelector('#value-stream .js-plotly-plot')});
})()
""".replace("MIN_FONT_PX", str(MIN_FONT_PX))


def phone_layout_in_chromium(browser_url: str, page_file: Path, screenshot: Path | None = None) -> dict:
    """Open `page_file` on an emulated phone (PHONE), measure it (PHONE_PROBE), save full-page screenshots."""
    page = _open_page(browser_url)
    try:
        page.call("Runtime.enable")
        page.call("Page.enable")
        page.call("Emulation.setUserAgentOverride", userAgent=PHONE_USER_AGENT, platform="Android")
        page.call("Emulation.setDeviceMetricsOverride", **PHONE)
        page.call("Emulation.setTouchEmulationEnabled", enabled=True, maxTouchPoints=5)
        page.call("Page.navigate", url=page_file.resolve().as_uri())
        page.wait_for("Page.loadEventFired")
        result = page.call("Runtime.evaluate", expression=PHONE_PROBE, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in result, result
        layout = json.loads(result["result"]["value"])
        assert page.errors() == []
        if (
            screenshot is not None
        ):  # the whole page in parts: <name>-1.png, -2.png, ... (3 device pixels a px)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            part_height = PHONE["height"]
            for index, top in enumerate(
                range(0, min(layout["height"], 12 * part_height), part_height), start=1
            ):
                shot = page.call(
                    "Page.captureScreenshot",
                    format="png",
                    captureBeyondViewport=True,
                    clip={"x": 0, "y": top, "width": PHONE["width"], "height": part_height, "scale": 1},
                )
                path = screenshot.with_name(f"{screenshot.stem}-{index}{screenshot.suffix}")
                path.write_bytes(base64.b64decode(shot["data"]))
        return layout
    finally:
        page.close()


def assert_fits_a_phone(layout: dict) -> None:
    emulated = (layout["dpr"], layout["touchPoints"], layout["touch"], layout["mobileAgent"])
    assert emulated == (3, 5, True, True), layout
    assert layout["layout"] == PHONE["width"], layout  # <meta name=viewport>: the page is laid out for 390 px
    assert layout["page"] <= PHONE["width"], layout  # the page never scrolls sideways...
    assert layout["outside"] == [], layout  # ...and nothing sticks out of it (tables scroll in their own box)
    for wrap in layout["wraps"]:
        assert wrap["right"] <= PHONE["width"] + 0.5, wrap
        if wrap["scroll"] > wrap["client"]:
            assert wrap["overflowX"] in ("auto", "scroll"), wrap
    for chart in layout["charts"]:
        assert chart["left"] >= -0.5 and chart["right"] <= PHONE["width"] + 0.5, chart  # each chart fits...
        drawn = chart["svgWidth"]
        assert drawn is not None and drawn <= chart["width"] + 0.5, chart  # ...and is drawn inside its box
        assert chart["legendCovers"] == [] and not chart["legendScrolls"], chart
    assert layout["small"] == [], layout["small"]  # no text below MIN_FONT_PX


def test_report_on_a_phone(tmp_path, browser):
    """The report with its value-stream page on an emulated phone. Screenshots: <tmp>/report-phone-<n>.png."""
    from datetime import date

    from test_serving_support import (
        REPORT_ANCHOR,
        REPORT_MONTHS,
        REPORT_WEEKS_FROM,
        flow_marts_statements,
        marts_statements,
    )

    warehouse = tmp_path / "dora.duckdb"
    # the report's period is October 2026 (test_report.py): the flow marts' sample month and quarter
    october = date(2026, 10, 1)
    statements = marts_statements(
        REPORT_ANCHOR, weeks_from=REPORT_WEEKS_FROM, weeks=9, months=REPORT_MONTHS
    ) + flow_marts_statements(october, october)
    build_duckdb_marts(warehouse, statements)
    settings = sample_settings(warehouse)
    from doraflow.publish import build_serving_copy
    from doraflow.report import write_report

    build_serving_copy(settings, settings.serving_path, tmp_path)
    report = write_report(settings, today=REPORT_TODAY)
    layout = phone_layout_in_chromium(browser, report, tmp_path / "report-phone.png")
    assert layout["valueStream"], "the value-stream page drew its chart"
    # organisation 5 + services 5 + teams 5 trend charts, the value stream and CI jobs by stage: every one
    # measured
    assert len(layout["charts"]) == 17 and all(chart["traces"] > 0 for chart in layout["charts"]), layout
    assert {"ci-health", "ci-stages", "flow-signals"} <= {wrap["table"] for wrap in layout["wraps"]}, layout[
        "wraps"
    ]
    assert any(wrap["scroll"] > wrap["client"] for wrap in layout["wraps"]), "no wide table was tried"
    assert_fits_a_phone(layout)
    assert (tmp_path / "report-phone-1.png").stat().st_size > 20_000
