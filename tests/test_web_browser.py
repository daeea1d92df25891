"""The search page in a real browser: Debian's headless Chromium driven by
Playwright, against `searchkit serve` on a free loopback port.  Skipped with
a reason when /usr/bin/chromium is absent; SEARCHKIT_REQUIRE_BROWSER=1 (as
.ci/run sets) turns that skip into a failure.  Screenshots go to a temp dir."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from conftest import SEEDS
from searchkit.indexer import build_index

CHROMIUM = "/usr/bin/chromium"
HOSTILE_TITLE = "<script>alert(1)</script>恶意标题测试"
HOSTILE_BODY = '"><img src=x onerror=alert(2)> 恶意正文测试'


def _browser_or_skip():
    reason = None
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} not found: Debian's chromium package runs the browser tests (apt-get install chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            reason = "playwright is not installed: pip install -e '.[test]'"
    if reason:
        if os.environ.get("SEARCHKIT_REQUIRE_BROWSER"):
            pytest.fail(reason + " (SEARCHKIT_REQUIRE_BROWSER is set)")
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`searchkit serve` over the seeds plus a page of hostile markup."""
    d = tmp_path_factory.mktemp("serve")
    pages = d / "pages"
    shutil.copytree(SEEDS, pages)
    (pages / "evil_page.txt").write_text(f"{HOSTILE_TITLE}\n{HOSTILE_BODY}\n更多正文。\n", encoding="utf-8")
    build_index([str(pages)], str(d / "index"))
    port = _free_port()
    log = open(d / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "searchkit", "serve", "--index-dir", str(d / "index"),
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"searchkit serve exited: {(d / 'serve.log').read_text(errors='replace')}")
                time.sleep(0.1)
        else:
            pytest.fail("searchkit serve did not answer /healthz within 30 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    d = tmp_path_factory.mktemp("screenshots")
    print(f"screenshots in {d}")
    return d


@pytest.fixture
def page(browser):
    """A page that records every dialog (an alert() from injected markup would be one)."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    p = context.new_page()
    p.dialogs = []
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    yield p
    context.close()


def state(url: str) -> dict:
    return {k: v for k, v in parse_qs(urlsplit(url).query).items()}


def test_search_facet_page_record_autocomplete_and_back(page, server, shots):
    page.goto(server + "/")
    page.fill("#q", "二月闹")
    page.press("#q", "Enter")
    page.wait_for_url("**/?q=*")
    assert state(page.url) == {"q": ["二月闹"]}
    titles = page.locator(".hit h2").all_inner_texts()
    assert all(t.startswith("二月闹") for t in titles[:4]), titles[:5]
    assert page.locator(".hit h2 mark").all_inner_texts()[:4] == ["二月闹"] * 4
    assert page.locator(".hit .snippet mark").count() >= 4
    page.screenshot(path=shots / "search.png")

    page.locator("nav.pages a", has_text="2").first.click()
    page.wait_for_url("**page=2*")
    assert page.locator("ol.hits").get_attribute("start") == "11"
    assert page.locator(".count").inner_text().startswith("4 results (+43 partial matches) · showing 11–20")
    assert page.locator(".hit.partial .missing").first.inner_text() == "Missing: 二月闹"

    page.locator('.facet[data-facet="month"] a', has_text="2025-03").click()
    page.wait_for_url("**facet=*")
    assert state(page.url) == {"q": ["二月闹"], "facet": ["month:2025-03"]}  # back on page 1
    assert page.locator(".count").inner_text().startswith("4 results")
    filtered = page.locator(".hit h2").all_inner_texts()
    assert all("二月闹" in t for t in filtered[:4]) and page.locator(".divider").count() == 1
    page.screenshot(path=shots / "facet.png")

    first = filtered[0]
    page.locator(".hit h2 a").first.click()
    page.wait_for_url("**/records/*")
    assert page.locator("h1").inner_text() == first
    assert page.locator(".similar li").count() >= 1
    assert page.locator(".source a").first.inner_text().endswith(".txt")
    page.screenshot(path=shots / "record.png", full_page=True)

    page.go_back()
    page.wait_for_url("**facet=*")
    assert page.locator(".count").inner_text().startswith("4 results")
    page.go_back()
    page.wait_for_url("**page=2*")
    assert page.locator("ol.hits").get_attribute("start") == "11"

    page.fill("#q", "")
    page.locator("#q").press_sequentially("yib", delay=60)
    option = page.locator("#suggestions li").first
    option.wait_for(state="visible")
    assert option.inner_text().startswith("医保")
    assert page.locator("#q").get_attribute("aria-expanded") == "true"
    page.screenshot(path=shots / "autocomplete.png")
    option.click()
    page.wait_for_url("**/?q=%E5%8C%BB%E4%BF%9D")
    assert page.locator(".hit").count() == 10

    page.fill("#q", "")
    page.locator("#q").press_sequentially("二月", delay=60)
    page.locator("#suggestions li").first.wait_for(state="visible")
    assert all(t.startswith("二月") for t in page.locator("#suggestions li span:not(.n)").all_inner_texts())
    page.press("#q", "ArrowDown")
    page.press("#q", "Enter")
    page.wait_for_url(lambda url: unquote(url).startswith(f"{server}/?q=二月"))
    assert page.locator(".hit mark").count() > 0

    page.go_back()
    page.wait_for_url("**/?q=%E5%8C%BB%E4%BF%9D")
    assert page.locator("#q").input_value() == "医保"
    assert page.dialogs == []


def test_pinyin_and_did_you_mean_are_links(page, server):
    page.goto(server + "/?q=yibao")
    note = page.locator(".note", has_text="read as pinyin")
    assert note.locator("a").inner_text() == "医保"
    page.goto(server + "/?q=北京医保卡首次使用")
    assert page.locator(".hit h2").first.inner_text() == "北京医保卡首次如何使用"
    page.goto(server + "/?q=医宝卡")  # only partial matches: the correction's results, with a way back
    assert page.locator(".note", has_text="showing results for 医保卡").count() == 1
    page.locator(".note a", has_text="医宝卡").click()
    page.wait_for_url(lambda url: state(url) == {"q": ["医宝卡"], "suggest": ["false"]})
    assert page.locator(".count").inner_text().startswith("0 results (+")
    page.goto(server + "/?q=北京 医宝")  # some full matches, and a word no record holds: a suggestion
    page.locator(".note a", has_text="北京 医保").click()
    page.wait_for_url(lambda url: state(url) == {"q": ["北京 医保"]})


def test_hostile_markup_shows_as_text_and_never_runs(page, server, shots):
    page.goto(server + "/?q=恶意标题测试")
    title = page.locator(".hit h2").first
    assert title.inner_text() == HOSTILE_TITLE
    assert page.locator("main script, main img").count() == 0
    page.screenshot(path=shots / "hostile-search.png")
    title.locator("a").click()
    page.wait_for_url("**/records/evil_page")
    assert page.locator("h1").inner_text() == HOSTILE_TITLE
    assert HOSTILE_BODY in page.locator(".body").inner_text()
    assert page.locator("main script, main img").count() == 0
    page.screenshot(path=shots / "hostile-record.png")
    page.goto(server + "/?q=" + "%3Cscript%3Ealert(3)%3C/script%3E")
    assert page.locator("#q").input_value() == "<script>alert(3)</script>"
    assert page.dialogs == []


def test_works_with_javascript_off(browser, server):
    context = browser.new_context(java_script_enabled=False)
    try:
        p = context.new_page()
        p.goto(server + "/")
        p.fill("#q", "二月闹")
        p.press("#q", "Enter")
        p.wait_for_url("**/?q=*")
        assert p.locator(".hit h2 mark").first.inner_text() == "二月闹"
        p.locator(".sort a", has_text="date").click()
        p.wait_for_url("**sort=date*")
        for group in (".hit:not(.partial) time", ".hit.partial time"):  # partial matches come last
            dates = p.locator(group).all_inner_texts()
            assert dates and dates == sorted(dates, reverse=True)
        assert p.locator("#suggestions").is_hidden()
    finally:
        context.close()


def test_readable_at_phone_width(browser, server, shots):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    try:
        p = context.new_page()
        p.goto(server + "/?q=二月闹")
        assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        box = p.locator(".hit h2").first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        p.screenshot(path=shots / "phone.png")
    finally:
        context.close()


def test_api_docs_page_shows_every_endpoint_offline(page, server, shots):
    """The API docs are HTML from the server: with every request off the
    machine blocked (as offline), each endpoint and its parameters show."""
    blocked = []

    def only_local(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(server + "/docs")
    assert page.locator("section.operation h2").count() >= 6
    assert page.locator("section.operation h2", has_text="GET /api/search").is_visible()
    search_rows = page.locator("section.operation", has_text="GET /api/search").locator("tbody tr")
    assert search_rows.count() >= 8 and search_rows.first.is_visible()
    assert blocked == []
    page.screenshot(path=shots / "api-docs.png", full_page=True)
