"""What each URL shows: the page the router builds from the link, its controls and notices.

A GET of a Dash Pages app returns the same shell for every path (the page is built later by
the router callback the browser fires), so a 200 proves nothing about a page. These tests
post that router callback with the URL's path and query, as the browser does, and check
what a reader would see; the HTTP status is checked only where it means something (a real
page 200, an unknown path 404).
"""

from __future__ import annotations

import math
import re

import pytest

import dash_http


def same(shown, expected) -> bool:
    return shown == pytest.approx(expected, abs=1e-3) if isinstance(expected, float) else shown == expected


def notices_of(props: dict) -> str:
    return dash_http.text(props["children"])


def used(notices: str, field: str) -> str:
    """The value a notice says the page uses instead of the bad one: 'field = ... using X.'"""
    match = re.search(rf"(?:^|\. ){re.escape(field)} = .*?; using ([^;]*?)\.(?: |$)", notices)
    assert match, (field, notices)
    return match.group(1)


# --- status: a real page 200, anything else 404 -------------------------------------------

@pytest.mark.parametrize("url", ["/", "/stretch-fold", "/stretch-fold/", "/sphere?dim=4", "/train?preset=spiral",
                                 "/stretch-fold?t=abc&op=%00"])
def test_pages_answer_200_with_the_app_shell(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert b'id="_dash-config"' in response.data  # the shell the browser's router fills in


@pytest.mark.parametrize("url", ["/no-such-page", "/sphere/extra", "/404", "/stretch-fold-x?t=1"])
def test_unknown_paths_answer_404_with_the_friendly_page(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert b'id="_dash-config"' in response.data and b"Traceback" not in response.data
    page = dash_http.route(client, url)
    assert page["title"] == "Not found — polyviz"
    assert "Page not found" in dash_http.text(page["layout"])
    links = [c["props"]["href"] for c in dash_http.components(page["layout"]) if "href" in c["props"]]
    assert links == ["/"]


def test_other_routes_keep_their_status(client):
    assert client.get("/health").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/assets/no-such-file.css").status_code == 404


# --- the pages themselves -----------------------------------------------------------------

def test_home_links_to_every_part(client):
    page = dash_http.route(client, "/")
    hrefs = {c["props"]["href"] for c in dash_http.components(page["layout"]) if "href" in c["props"]}
    assert {"/stretch-fold", "/sphere", "/train"} <= hrefs
    assert page["title"].startswith("polyviz")


GOOD_LINKS = [
    ("/stretch-fold", "sf-notices", {"sf-op": "stretch"}),
    ("/stretch-fold?op=shift&t=2&eps=0.01", "sf-notices", {"sf-op": "shift", "sf-t": 2.0, "sf-log-eps": -2.0}),
    ("/sphere", "sp-notices", {"sp-source": "random"}),
    ("/sphere?dim=4&neurons=64&act=gelu", "sp-notices", {"sp-dim": 4, "sp-neurons": 64, "sp-act": "gelu"}),
    ("/train", "tr-notices", {"tr-dataset": "spiral"}),
    ("/train?preset=spiral", "tr-notices", {"tr-dataset": "spiral"}),
    ("/train?preset=octant_sphere", "tr-notices", {"tr-dataset": "octant_sphere", "tr-depth": 4, "tr-steps": 6000}),
    ("/train?dataset=spiral&width=5&seed=9&lr=0.1", "tr-notices",
     {"tr-width": 5, "tr-seed": 9, "tr-log-lr": -1.0}),
]


@pytest.mark.parametrize(("url", "notices_id", "expected"), GOOD_LINKS)
def test_a_link_reopens_its_view_without_notices(client, url, notices_id, expected):
    controls = dash_http.by_id(dash_http.route(client, url)["layout"])
    assert notices_of(controls[notices_id]) == ""
    for control, value in expected.items():
        assert same(controls[control]["value"], value), (control, controls[control]["value"])


# (url, notices box, [(field in the notice, control it sets, value the control shows from "using X")])
BAD_LINKS = [
    ("/stretch-fold?t=abc&t=1e308&eps=-1&n=1000000000&op=%00", "sf-notices",
     [("op", "sf-op", str), ("t", "sf-t", float), ("eps", "sf-log-eps", lambda x: math.log10(float(x))),
      ("n", "sf-n", int)]),
    ("/sphere?dim=7&neurons=1000&seed=abc&wscale=-1&act=x&source=nope", "sp-notices",
     [("dim", "sp-dim", int), ("neurons", "sp-neurons", int), ("seed", "sp-seed", int),
      ("wscale", "sp-wscale", float), ("act", "sp-act", str), ("source", "sp-source", str)]),
    ("/sphere?k=%00&v_az=nan&full=maybe", "sp-notices",
     [("k", "sp-k", float), ("v_az", "sp-v-az", float), ("full", "sp-full", lambda x: [] if x == "False" else x)]),
    ("/train?n=1000000000&width=100&depth=50&steps=1000000&preset=%00", "tr-notices",
     [("n", "tr-n", int), ("width", "tr-width", int), ("depth", "tr-depth", int), ("steps", "tr-steps", int)]),
    ("/train?lr=abc&eps=-1&act=sigmoid", "tr-notices",
     [("lr", "tr-log-lr", lambda x: math.log10(float(x))), ("eps", "tr-log-eps", lambda x: math.log10(float(x))),
      ("act", "tr-act", str)]),
]


@pytest.mark.parametrize(("url", "notices_id", "fields"), BAD_LINKS)
def test_a_bad_link_opens_the_page_with_a_notice_per_field(client, url, notices_id, fields):
    controls = dash_http.by_id(dash_http.route(client, url)["layout"])
    notices = notices_of(controls[notices_id])
    assert "allowed" in notices
    for field, control, shown in fields:
        assert same(controls[control]["value"], shown(used(notices, field))), (field, controls[control], notices)


def test_an_unknown_preset_is_named_and_the_controls_are_kept(client):
    controls = dash_http.by_id(dash_http.route(client, "/train?preset=nope&width=5")["layout"])
    notices = notices_of(controls["tr-notices"])
    assert "preset = 'nope' is not allowed (one of spiral, octant_sphere, digits)" in notices
    assert controls["tr-width"]["value"] == 5


def test_k_beyond_every_limit_ends_at_kmax(client):
    controls = dash_http.by_id(dash_http.route(client, "/sphere?k=1e999&kmax=3")["layout"])
    notices = notices_of(controls["sp-notices"])
    assert "k = inf is out of range" in notices and "above kmax" in notices
    assert controls["sp-k"]["value"] == controls["sp-kmax"]["value"] == 3
