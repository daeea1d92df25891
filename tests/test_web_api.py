"""The HTTP API and the server-rendered pages, through the framework's test
client, on the seed pages: the CLI's JSON shapes, every error case, hostile
text, and answers from a new generation without a restart."""

import json
import threading
import time

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from searchkit.cli import main
from searchkit.indexer import build_index
from searchkit.web import create_app
from searchkit.web.live import LiveIndex

HOSTILE_TITLE = "<script>alert(1)</script>恶意标题测试"
HOSTILE_BODY = '"><img src=x onerror=alert(2)> 恶意正文测试 javascript:alert(3)'


@pytest.fixture(scope="module")
def client(seeds_index):
    with TestClient(create_app(seeds_index)) as c:
        yield c


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def cli_json(*args):
    r = cli(*args, "--json")
    return json.loads(r.stdout)


@pytest.mark.parametrize("query, options, api", [
    ("二月闹", [], ""),
    ("yibao", ["--limit", "3"], "&limit=3"),
    ("医宝卡", [], ""),
    ("医保", ["--facet", "city=北京", "--sort", "date", "--page", "2", "--limit", "5"],
     "&facet=city:北京&sort=date&page=2&limit=5"),
    ("医保 -北京", ["--kind", "card", "--since", "2025-04-01"], "&kind=card&since=2025-04-01"),
])
def test_search_json_is_the_clis(client, seeds_index, query, options, api):
    expected = cli_json("search", query, "--index-dir", seeds_index, *options)
    r = client.get(f"/api/search?q={query}{api}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert query.split()[0] in r.text  # Chinese unescaped
    assert r.json() == expected
    assert expected["total"] > 0


def test_search_answers_as_the_cli_does(client):
    first = client.get("/api/search?q=北京医保卡首次使用").json()["hits"][0]
    assert first["id"] == "000_162322ff5d1d489a" and "北京" in first["title"]
    assert client.get("/api/search?q=yibao").json()["pinyin"] == ["医保"]
    assert client.get("/api/search?q=医宝卡").json()["suggestion"] == "医保卡"
    hits = client.get("/api/search?q=二月闹&limit=4").json()["hits"]
    assert all(h["title"].startswith("二月闹") and h["kind"] == "card" for h in hits)


def test_no_hits_is_200_with_total_0(client):
    r = client.get("/api/search?q=xyzzy")
    assert r.status_code == 200
    assert r.json()["total"] == 0 and r.json()["hits"] == []


@pytest.mark.parametrize("query, parameter", [
    ("q=医保&limit=0", "limit"),
    ("q=医保&limit=101", "limit"),
    ("q=医保&limit=ten", "limit"),
    ("q=医保&page=0", "page"),
    ("q=医保&page=1001", "page"),
    ("q=医保&kind=video", "kind"),
    ("q=医保&since=2025-13-01", "since"),
    ("q=医保&until=yesterday", "until"),
    ("q=医保&since=2025-04-01&until=2025-03-01", "since"),
    ("q=医保&sort=random", "sort"),
    ("q=医保&facet=city", "facet"),
    ("q=医保&facet=planet:火星", "facet"),
    ("q=医保&facet=city:", "facet"),
    ("q=" + "医" * 1001, "q"),
])
def test_bad_parameters_are_named(client, query, parameter):
    r = client.get(f"/api/search?{query}")
    assert r.status_code == 422
    body = r.json()
    assert body["parameter"] == parameter
    assert body["error"].startswith(parameter) and "\n" not in body["error"]


@pytest.mark.parametrize("query", ['"异地', "(医保", "医保 AND", "NOT 医保", "😀", "", "   "])
def test_unreadable_query_gives_the_clis_message(client, seeds_index, query):
    r = cli("search", query, "--index-dir", seeds_index)
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    api = client.get("/api/search", params={"q": query})
    assert api.status_code == 400
    assert f"searchkit: {api.json()['error']}\n" == r.stderr
    assert api.json()["parameter"] == "q"


@pytest.mark.parametrize("raw", [
    "q=%F0%9F%98%80%F0%9F%A9%BA",          # emoji only
    "q=%E5%8C%BB%00%E4%BF%9D",             # NUL inside 医保
    "q=" + "%E5%8C%BB" * 3000 + "b" * 7000,  # 10,000 characters
    "q=%E5%8C%BB%E4%BF",                   # a cut UTF-8 sequence
    "q=%ZZ%E4%BF%9D%",                     # broken percent-encoding
    "q=%ED%A0%80",                         # an encoded lone surrogate
    "q=医保&limit=%FF&page=-1",
    "q=医保&facet=%00:%00",
    "q=医保&since=%00",
    "q=title:&limit=1",
    "q=" + "(" * 300 + "医" + ")" * 300,
    "q=" + "医 OR " * 200 + "保",
])
def test_odd_query_strings_never_give_500(client, raw):
    for path in ("/api/search", "/"):
        r = client.get(f"{path}?{raw}")
        assert r.status_code in (200, 400, 422), (path, raw, r.text[:200])
        if path.startswith("/api"):
            assert r.json()["total"] >= 0 if r.status_code == 200 else r.json()["error"]
    assert client.get("/api/suggest?" + raw).status_code in (200, 422)


def test_record_and_similar_are_the_clis(client, seeds_index):
    doc_id = "000_162322ff5d1d489a"
    r = client.get(f"/api/records/{doc_id}")
    assert r.status_code == 200
    assert r.json() == cli_json("show", doc_id, "--index-dir", seeds_index)
    assert r.json()["disclaimer"] and "北京医保" in r.json()["body"]
    r = client.get(f"/api/similar/{doc_id}?limit=3")
    assert r.json() == cli_json("similar", doc_id, "--index-dir", seeds_index, "--limit", "3")
    assert len(r.json()["hits"]) == 3 and doc_id not in [h["id"] for h in r.json()["hits"]]


@pytest.mark.parametrize("path", ["/api/records/nope", "/api/similar/nope", "/api/records/%3Cscript%3E",
                                  "/api/records/" + "x" * 300])
def test_unknown_record_is_404_or_422(client, path):
    r = client.get(path)
    assert r.status_code in (404, 422)
    assert r.json()["parameter"] == "doc_id" and r.json()["error"]


def test_suggest_hanzi_and_pinyin(client, seeds_index):
    r = client.get("/api/suggest?q=yb&limit=3")
    assert r.json() == cli_json("suggest", "yb", "--index-dir", seeds_index, "--limit", "3")
    assert r.json()[0] == {"text": "医保", "kind": "term", "count": r.json()[0]["count"]}
    assert all(s["text"].startswith("二月") for s in client.get("/api/suggest?q=二月").json())
    assert client.get("/api/suggest?q=").status_code == 422
    assert client.get("/api/suggest?q=医&limit=21").json()["parameter"] == "limit"


def test_stats_and_health(client, seeds_index):
    assert client.get("/api/stats").json() == cli_json("stats", "--index-dir", seeds_index)
    assert client.get("/healthz").json() == {"status": "ok", "documents": 105}


def test_openapi_docs_list_the_api(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/search", "/api/records/{doc_id}", "/api/suggest", "/api/similar/{doc_id}", "/api/stats",
            "/healthz"} <= set(spec["paths"])
    assert "/" not in spec["paths"]
    names = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "limit", "page", "kind", "since", "until", "facet", "sort"} <= names
    # The docs page is rendered on the server from that schema: no script or stylesheet from elsewhere
    # (FastAPI's own Swagger page fetches both from a CDN and is blank offline).
    page = client.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower() and "<script src=\"http" not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    for path in ("/api/search", "/api/records/{doc_id}", "/api/suggest", "/healthz"):
        assert f"GET {path}</code>" in page.text
    assert "The query (see the README&#39;s query syntax)." in page.text  # a parameter's description
    assert "integer (≥ 1, ≤ " in page.text and "list of string" in page.text  # limit's bounds; facet
    assert client.get("/redoc").status_code == 404


def test_missing_index_is_503_until_built(tmp_path, seed_files):
    index_dir = str(tmp_path / "index")
    with TestClient(create_app(index_dir, check_every=0)) as c:
        r = c.get("/healthz")
        assert r.status_code == 503 and "no index at" in r.json()["error"]
        assert c.get("/?q=医保").status_code == 503
        build_index([str(seed_files[0])], index_dir)
        assert c.get("/healthz").status_code == 200


def test_search_page_is_server_rendered(client):
    r = client.get("/?q=二月闹")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert html.count("<mark>二月闹</mark>") >= 8
    assert 'href="/?q=%E4%BA%8C%E6%9C%88%E9%97%B9&amp;facet=month%3A2025-03"' in html
    assert 'href="/?q=%E4%BA%8C%E6%9C%88%E9%97%B9&amp;page=2"' in html
    assert "4 results (+43 partial matches)" in html
    assert html.count('class="divider"') == 1 and "Missing: <s>二月闹</s>" in html
    assert "script-src" not in r.headers["content-security-policy"] and "default-src 'self'" in r.headers[
        "content-security-policy"]
    filtered = client.get("/?q=医保&facet=city:北京").text
    assert "12 results" in filtered and "city: 北京 ✕" in filtered  # the 12 医保 records named 北京
    pinyin = client.get("/?q=yibao").text
    assert 'read as pinyin: <a href="/?q=%E5%8C%BB%E4%BF%9D">医保</a>' in pinyin
    corrected = client.get("/?q=医宝卡").text
    assert ('showing results for 医保卡; search instead for <a href="/?q=%E5%8C%BB%E5%AE%9D%E5%8D%A1&amp;'
            'suggest=false">医宝卡</a>') in corrected
    assert "0 results (+82 partial matches)" in client.get("/?q=医宝&suggest=false").text  # as typed
    bad = client.get('/?q="异地')
    assert bad.status_code == 400 and "unbalanced quote" in bad.text
    assert client.get("/?q=医保&page=x").status_code == 422
    assert "<mark>" not in client.get("/").text
    assert "Page 9 is past the last page" in client.get("/?q=二月闹&page=9").text
    assert "No results for “xyzzy”" in client.get("/?q=xyzzy").text


def test_record_page(client):
    html = client.get("/records/000_162322ff5d1d489a").text
    assert "<h1>北京医保卡首次如何使用</h1>" in html
    assert "通过北京医保公共服务平台" in html and 'class="disclaimer"' in html
    assert html.count('href="/records/') >= 3  # similar records
    card = client.get("/api/search?q=二月闹&limit=1").json()["hits"][0]["id"]
    assert 'from <a href="/records/000_162322ff5d1d489a">' in client.get("/?q=二月闹").text
    assert 'sources: <a href="/records/000_162322ff5d1d489a">' in client.get(f"/records/{card}").text
    missing = client.get("/records/nope")
    assert missing.status_code == 404 and "no record with id" in missing.text


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory, seed_files):
    d = tmp_path_factory.mktemp("hostile")
    page = d / "pages" / "evil_page.txt"
    page.parent.mkdir()
    page.write_text(f"{HOSTILE_TITLE}\n{HOSTILE_BODY}\n更多正文。\n", encoding="utf-8")
    (d / "pages" / "more.jsonl").write_text(json.dumps(
        {"id": "evil2", "title": '"><svg onload=alert(4)>恶意链接测试', "text": "恶意链接测试 正文",
         "url": "javascript:alert(5)"}, ensure_ascii=False) + "\n", encoding="utf-8")
    build_index([str(page.parent)], str(d / "index"))
    with TestClient(create_app(str(d / "index"))) as c:
        yield c


def test_text_from_the_index_is_escaped(hostile_client):
    html = hostile_client.get("/?q=恶意标题测试").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<mark>恶意标题测试</mark>" in html
    assert "<script>alert" not in html and "<img" not in html
    record = hostile_client.get("/records/evil_page").text
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in record and "<img" not in record
    linked = hostile_client.get("/records/evil2").text
    assert "<svg" not in linked and 'href="javascript:' not in linked


def test_page_works_mounted_in_another_app(seeds_index):
    outer = FastAPI()
    outer.mount("/search", create_app(seeds_index))
    with TestClient(outer) as c:
        html = c.get("/search/?q=二月闹").text
        assert 'href="/search/static/style.css"' in html and 'href="/search/records/' in html
        assert c.get("/search/static/suggest.js").status_code == 200
        assert c.get("/search/api/search?q=二月闹").json()["total"] == 4


def test_serve_refuses_a_missing_index(tmp_path):
    r = cli("serve", "--index-dir", str(tmp_path / "none"), "--port", "0")
    assert r.exit_code == 2
    assert r.stderr.startswith("searchkit: no index at") and "Traceback" not in r.stderr


def _wait_for(predicate, seconds=20.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_answers_from_new_generations_without_failing(tmp_path, seeds_copy):
    """Requests run while `searchkit index` commits, rebuilds, and deletes
    the generation the server opened first: none fails, and the new
    records are found without a restart."""
    index_dir = str(tmp_path / "index")
    build_index([str(seeds_copy)], index_dir)
    page = seeds_copy / "new_page.txt"
    seen: list[int] = []  # new pages among the hits of each answer
    steps: list[str] = []

    def updates():
        page.write_text("xyzzyplugh 怎么治疗\nxyzzyplugh 是一个测试用的词。\n", encoding="utf-8")
        build_index([str(seeds_copy)], index_dir)  # an incremental commit
        if _wait_for(lambda: seen[-1] == 1):
            steps.append("added")
        page.unlink()
        build_index([str(seeds_copy)], index_dir, rebuild=True)  # a new generation
        if _wait_for(lambda: seen[-1] == 0):
            steps.append("removed")
        build_index([str(seeds_copy)], index_dir, rebuild=True)  # the first one is deleted now
        steps.append("rebuilt")

    with TestClient(create_app(index_dir, check_every=0.05)) as c:
        assert c.get("/api/search?q=xyzzyplugh").json()["total"] == 0  # the index is open now
        seen.append(0)
        writer = threading.Thread(target=updates)
        writer.start()
        statuses, end = [], float("inf")
        while time.monotonic() < end:  # until a second after the last rebuild
            if not writer.is_alive() and end == float("inf"):
                end = time.monotonic() + 1.0
            r = c.get("/api/search?q=xyzzyplugh 医保&limit=100")  # every hit: its rank is not the point
            statuses.append(r.status_code)
            if r.status_code == 200:
                seen.append(sum(h["title"].startswith("xyzzyplugh") for h in r.json()["hits"]))
        writer.join()
        assert set(statuses) == {200}
        assert steps == ["added", "removed", "rebuilt"]
        assert seen[-1] == 0


def test_concurrent_requests_share_one_index(client):
    queries = ["二月闹", "北京医保卡首次使用", "yibao", "医保 -北京", "生育津贴", "医宝卡"]
    expected = {q: client.get("/api/search", params={"q": q}).json() for q in queries}
    wrong = []

    def run(k: int) -> None:
        for i in range(60):
            q = queries[(i + k) % len(queries)]
            r = client.get("/api/search", params={"q": q})
            if r.status_code != 200 or r.json() != expected[q]:
                wrong.append((q, r.status_code, r.text[:120]))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_a_leased_index_outlives_the_swap(tmp_path, seeds_copy):
    index_dir = str(tmp_path / "index")
    build_index([str(seeds_copy)], index_dir)
    live = LiveIndex(index_dir, check_every=0)
    try:
        with live.use() as old:
            (seeds_copy / "new_page.txt").write_text("xyzzyplugh 怎么治疗\nxyzzyplugh 的治疗。\n", encoding="utf-8")
            build_index([str(seeds_copy)], index_dir, rebuild=True)

            def swapped():
                with live.use() as ix:
                    return ix is not old
            assert _wait_for(swapped)
            assert old.search("二月闹").total == 4  # still open for the request that holds it
            assert old.search("xyzzyplugh").total == 0
        with live.use() as new:
            assert new.search("xyzzyplugh").total == 1
    finally:
        live.close()
