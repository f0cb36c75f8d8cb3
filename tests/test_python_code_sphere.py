""""Copy as Python" on /sphere: the code the page offers for a link, run as a notebook would
run it, makes the same four figures as the page's callbacks draw for that link: a random
layer, a trained layer (its model trained again from the link's ``train`` settings) and an
uploaded model's layer (loaded from its .zip)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest

from polyviz import state as st
from polyviz.pages.sphere import SphereState
from test_python_code import run_copied, same_figure_data

FIGURES = ("scene", "circle", "rotation", "scaling")


@pytest.fixture(scope="module")
def mods(dash_app):
    from callbacks import python_code
    from callbacks import sphere as cb

    return python_code, cb


def page_view(cb, query: str) -> tuple[str, dict, str]:
    """For a link's query: the canonical query the page shows (its address bar and code box
    follow it), the four figures its callbacks draw, and the summary line above them. The
    controls hold the link's values, as the layout restores them."""
    state, _ = st.from_query(SphereState, query)
    controls = {name: getattr(state, name) for name in cb.ALL_FIELDS}
    controls["full"] = ["full"] if state.full else []
    canonical = cb.update_query(*[controls[name] for name in cb.ALL_FIELDS], None, state.train)[0]
    layer = [controls[name] for name in cb.LAYER_FIELDS]
    directions = (state.v_az, state.v_el, state.w_az, state.w_el)
    scene, summary, _caption = cb.update_scene(*layer, *directions, state.k, state.kmax)
    circle, rotation, _words = cb.update_probe(*layer, *directions, controls["full"])
    scaling, _words = cb.update_scaling(*layer, state.v_az, state.v_el, state.k, state.kmax)
    return canonical, dict(scene=scene, circle=circle, rotation=rotation, scaling=scaling), summary


def assert_same_figures(copied: dict, page: dict):
    assert sorted(copied) == sorted(FIGURES)
    for name in FIGURES:
        assert len(page[name]["data"]) > 0, name
        assert same_figure_data(copied[name], page[name], rtol=0, atol=0), name
        assert copied[name]["layout"]["title"] == page[name]["layout"]["title"], name
        assert copied[name]["layout"]["meta"] == page[name]["layout"]["meta"], name
        assert copied[name] == page[name], name  # and everything else the browser receives


@pytest.mark.parametrize("query", [
    "dim=4&neurons=9&seed=11&wscale=1.7&bscale=0.3&act=gelu&v_az=40&v_el=10&w_az=200&w_el=-30&k=3.5&kmax=20&full=1",
    "dim=3&neurons=5&seed=2&act=relu&v_az=10&w_az=100&k=0.7&kmax=4",
])
def test_a_random_layer_s_code_draws_the_page_s_four_figures(mods, query):
    python_code, cb = mods
    canonical, page, _summary = page_view(cb, query)
    code = python_code.code_for("sp", canonical)
    assert f"st.from_query(SphereState, {canonical!r})" in code  # every argument of the link
    assert "neurons=9&" in code or "neurons=5&" in code
    assert_same_figures(run_copied(code), page)


@pytest.fixture(scope="module")
def trained_link(mods):
    """A tiny model trained by the /train page's job (it lands in the shared cache), and the
    link its run page offers to layer 1 on /sphere (with the settings that train it)."""
    from polyviz.pages.train import TrainState
    from services import jobs, run_store

    state, notices = st.validate(TrainState, dict(dataset="spiral", n=160, width=3, depth=2, steps=60, seed=5,
                                                  data_seed=2, act="u_eps"))
    assert notices == []
    outcome = jobs.run_job(jobs.new_job(state, "train"), jobs.TRAIN)
    run = run_store.load_run(outcome.key)
    assert run is not None, outcome.status
    return urlsplit(run_store.sphere_href(outcome.key, 1, run.query)).query, run


def test_a_trained_layer_s_code_trains_the_model_again_and_draws_the_same_figures(mods, trained_link):
    python_code, cb = mods
    link, run = trained_link
    canonical, page, summary = page_view(cb, link + "&v_az=75&v_el=-20&w_az=300&k=1.5&kmax=6")
    assert summary.startswith("Layer 1 of the trained model")  # the page draws the model's layer
    assert "train=" in canonical and "source=trained" in canonical
    code = python_code.code_for("sp", canonical)
    assert "model = retrained_model(state, user)" in code and f"{canonical!r}" in code
    assert_same_figures(run_copied(code), page)


def test_an_uploaded_model_s_code_loads_its_zip(mods, trained_link, tmp_path, monkeypatch):
    from polyviz.records import read_model_zip
    from services import run_store

    python_code, cb = mods
    _link, run = trained_link
    archive = run.model_zip()
    model = run_store.store_uploaded_model(read_model_zip(archive))
    canonical, page, summary = page_view(cb, f"source=trained&model={model}&layer=1&v_az=120&k=2.5")
    assert summary.startswith("Layer 1 of the trained model") and "train=&" in canonical + "&"
    code = python_code.code_for("sp", canonical)
    assert "read_model_zip" in code and "retrained_model" not in code
    (tmp_path / "model.zip").write_bytes(archive)  # the file the code's comment says to load
    monkeypatch.chdir(tmp_path)
    assert_same_figures(run_copied(code), page)


def test_a_layer_of_a_model_of_your_data_reads_your_file_and_draws_the_same_figures(mods, tmp_path, monkeypatch):
    """The copied code of such a link loads your data (the page has it by content hash) and
    retrains on it; run as it stood, it called retrained_model(state) and raised."""
    import numpy as np

    from polyviz.pages.train import TrainState
    from polyviz.userdata import parse_csv
    from services import data_store, jobs, run_store

    python_code, cb = mods
    rng = np.random.default_rng(11)
    X = rng.normal(size=(80, 2))
    text = "a,b,label\n" + "".join(f"{x:.4f},{y:.4f},{int(x * y > 0)}\n" for x, y in X)
    user = parse_csv(text)
    data_store.store_data(user)
    state, notices = st.validate(TrainState, dict(data=user.content_hash, n=80, width=3, depth=2, steps=40, seed=3))
    assert notices == []
    outcome = jobs.run_job(jobs.new_job(state, "train"), jobs.TRAIN)
    run = run_store.load_run(outcome.key)
    link = urlsplit(run_store.sphere_href(outcome.key, 1, run.query)).query
    canonical, page, summary = page_view(cb, link)
    assert summary.startswith("Layer 1 of the trained model")
    code = python_code.code_for("sp", canonical)
    assert "parse_csv(open('your-data.csv', 'rb').read())" in code and "retrained_model(state, user)" in code
    (tmp_path / "your-data.csv").write_text(text)  # the file the code says to read
    monkeypatch.chdir(tmp_path)
    assert_same_figures(run_copied(code), page)


def test_the_sphere_code_box_checks_the_link_again(mods, trained_link):
    """A payload can hold anything: the fields are validated again, and ``train`` settings
    that train another model are not offered as this model's."""
    python_code, cb = mods
    link, run = trained_link
    code = python_code.code_for("sp", "neurons=999&act=nope&dim=4")
    assert "neurons=64&" in code and "act=relu&" in code
    other = run.query.replace("seed=5", "seed=6")
    model = dict(pair.split("=", 1) for pair in link.split("&"))["model"]
    code = python_code.code_for("sp", urlencode(dict(source="trained", model=model, layer=1, train=other)))
    assert "retrained_model" not in code and "read_model_zip" in code  # cached: its .zip, not another model
    # an unknown model whose link trains another: the page draws a random layer, and so does the code
    unknown = urlencode(dict(source="trained", model="e" * 40, layer=1, train=other))
    canonical, page, summary = page_view(cb, unknown)
    assert summary.startswith("A random layer") and "train=&" in canonical + "&"
    code = python_code.code_for("sp", canonical)
    assert "model = None" in code and "not in the cache" in code
    assert_same_figures(run_copied(code), page)


def test_a_sweep_seed_is_trained_again_as_its_sweep_trained_it(mods):
    """A layer link from a seed the sweep trained (origin = sweep) carries the sweep's settings:
    the code's model is that seed's weights from the sweep, the ones the page opens."""
    import torch

    from polyviz.pages.train import TrainState, trained_run
    from services import jobs, run_store

    state, notices = st.validate(TrainState, dict(dataset="xor", n=120, width=3, depth=2, steps=40, k=3, seed=1,
                                                  data_seed=1, origin="sweep"))
    assert notices == []
    jobs.run_job(jobs.new_job(state, "sweep"), jobs.SWEEP)
    opened = run_store.open_sweep_seed(state)
    assert opened is not None and opened.sweep_seeds == 3
    again = trained_run(state)
    assert again.sweep_seeds == 3 and torch.equal(again.params.flat, opened.params.flat)
