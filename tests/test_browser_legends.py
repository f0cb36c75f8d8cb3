"""A figure looks the same however its graph came to draw it. dcc.Graph draws an empty figure
when it mounts before its figure has arrived, then Plotly.react's the figure in: a legend placed
in paper coordinates outside the axes came out where Plotly's first margin pass put it (on
/train's data figure, over the x tick labels; on /stretch-fold's curve, 20 px higher than a
fresh draw), so the same link showed two pictures. Every graph with a legend on /stretch-fold,
/sphere, /transformer and a finished /train run is drawn both ways in the page's own Plotly, at
the size the page gives it: the legends and the plot areas must match."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import severe_console_errors
from in_browser import graphs_with_data, wait_for

pytestmark = pytest.mark.browser

# For every drawn graph with a legend: its legends' positions and its plot area, drawn fresh
# (Plotly.newPlot) and drawn over an empty figure (newPlot of nothing, then Plotly.react).
BOTH_WAYS = r"""
const done = arguments[arguments.length - 1];
(async () => {
  const out = {};
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (!gd._fullLayout || !gd.querySelector('.legend') || !gd.data.length) continue;
    const id = gd.closest('[id]').id;
    const picture = {};
    for (const way of ['fresh', 'over an empty figure']) {
      const fig = structuredClone({data: gd.data, layout: gd.layout});
      const div = document.createElement('div');
      div.style.cssText = `position:absolute;left:0;top:0;width:${gd.clientWidth}px;height:${gd.clientHeight}px`;
      document.body.appendChild(div);
      if (way === 'fresh') {
        await Plotly.newPlot(div, fig.data, fig.layout);
      } else {
        await Plotly.newPlot(div, [], {});
        await Plotly.react(div, fig.data, fig.layout);
      }
      picture[way] = {legends: [...div.querySelectorAll('.legend')].map((l) => l.getAttribute('transform')),
                      plot: div._fullLayout._size};
      Plotly.purge(div);
      div.remove();
    }
    out[id] = picture;
  }
  return out;
})().then(done, (e) => done({error: String(e)}));
"""


def legends_both_ways(driver) -> dict:
    pictures = driver.execute_async_script(BOTH_WAYS)
    assert "error" not in pictures, pictures
    return pictures


def assert_same_both_ways(pictures: dict, expected_graphs: set[str]) -> None:
    assert expected_graphs <= set(pictures), (expected_graphs, sorted(pictures))
    moved = {graph: picture for graph, picture in pictures.items()
             if picture["fresh"] != picture["over an empty figure"]}
    assert moved == {}


@pytest.mark.parametrize("url, graphs", [
    ("/stretch-fold?op=shift&t=1.5&eps=0.01&n=300", {"sf-curve"}),
    ("/sphere?dim=3&neurons=8", {"sp-scene", "sp-scaling"}),
    ("/transformer", {"tf-rotation"}),
])
def test_a_pages_legends_do_not_depend_on_how_its_graphs_were_first_drawn(browser, live_server, url, graphs):
    browser.get(live_server + url)
    wait_for(browser, lambda d: graphs_with_data(d, graphs), timeout=90)
    assert_same_both_ways(legends_both_ways(browser), graphs)
    assert severe_console_errors(browser) == []


def test_a_training_runs_legends_do_not_depend_on_how_its_graphs_were_first_drawn(browser, live_server):
    browser.get(live_server + "/train?dataset=spiral&n=300&steps=200&seed=11")
    button = WebDriverWait(browser, 30).until(EC.element_to_be_clickable((By.ID, "tr-train")))
    wait_for(browser, lambda d: "steps=200" in d.current_url)
    button.click()
    wait_for(browser, lambda d: "Trained 200 steps" in d.find_element(By.ID, "tr-status").text, timeout=120)
    result_graphs = {"tr-data-fig", "tr-curves"}
    wait_for(browser, lambda d: graphs_with_data(d, result_graphs | {"tr-animation"}), timeout=60)
    assert_same_both_ways(legends_both_ways(browser), result_graphs)
    assert severe_console_errors(browser) == []
