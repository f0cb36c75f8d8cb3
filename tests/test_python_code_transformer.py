""""Copy as Python" on /transformer: the code the page offers for a link loads the model by its
allow-listed name, narrows the link's settings to it and makes the same five figures as the
page's callbacks draw. The tiny GPT-2 and BERT checkpoints of test_transformer are the
models (saved directories on the allow-list, as a user's own would be)."""

from __future__ import annotations

import pytest

from polyviz import state as st
from polyviz.pages.transformer import TransformerState
from test_python_code import run_copied, same_figure_data
from test_transformer import TEXT, allow, tiny  # noqa: F401 - the checkpoints and their allow-list

FIGURES = ("circle", "rotation", "scaling", "direction", "massive")


@pytest.fixture(scope="module")
def mods(dash_app):
    from callbacks import python_code
    from callbacks import transformer as cb
    from layouts import transformer as lay

    return python_code, cb, lay


def page_view(cb, lay, query: dict) -> tuple[str, dict]:
    """For a link: the canonical query the page shows (the layout's, narrowed to the model)
    and the five figures its callbacks draw for it."""
    nodes = {node.id: node for node in cb.layout(**query)._traverse() if isinstance(getattr(node, "id", None), str)}
    canonical = nodes[lay.QUERY].data
    s, notices = st.from_query(TransformerState, canonical)
    assert notices == []
    base = (s.model, s.layer, s.text)
    return canonical, {
        "circle": cb.update_circle(*base, s.a, s.b)[0],
        "rotation": cb.update_rotation(*base, s.pairs, s.seed)[0],
        "scaling": cb.update_scaling(*base, s.kmax)[0],
        "direction": cb.update_direction(*base, s.a, s.wkind, s.wtok, s.g1, s.g2, s.wdim, s.amax)[0],
        "massive": cb.update_massive(*base, s.mdim, s.smax)[0],
    }


@pytest.mark.parametrize(("name", "extra"), [
    ("tinygpt", dict(layer="2", a="1", b="6", pairs="40", seed="3", kmax="4", wkind="groups", g1="1-3", g2="5, 7",
                     amax="2.5", smax="6")),
    ("tinybert", dict(layer="1", a="2", b="9", pairs="60", seed="1", kmax="12", wkind="basis", wdim="5", mdim="7",
                      smax="20")),
])
def test_the_code_loads_the_model_by_name_and_draws_the_page_s_five_figures(mods, allow, name, extra):  # noqa: F811
    python_code, cb, lay = mods
    canonical, page = page_view(cb, lay, dict(model=name, text=TEXT, **extra))
    assert f"model={name}&layer={extra['layer']}&" in canonical
    code = python_code.code_for("tf", canonical)
    assert f"st.from_query(TransformerState, {canonical!r})" in code  # every argument of the link
    assert "model = tf.load(state.model)" in code and f"# {name!r} is a name on the server's allow-list" in code
    copied = run_copied(code)
    assert sorted(copied) == sorted(FIGURES)
    for view in FIGURES:
        assert page[view]["data"], view  # a drawn view, not a message
        assert same_figure_data(copied[view], page[view], rtol=0, atol=0), view
        assert copied[view]["layout"].get("meta") == page[view]["layout"].get("meta"), view
        assert copied[view] == page[view], view  # and everything else the browser receives


def test_the_transformer_code_box_checks_the_link_again(mods):
    python_code, _cb, _lay = mods
    code = python_code.code_for("tf", "layer=-3&kmax=nope&model=%00")
    state, _ = st.from_query(TransformerState, "layer=-3&kmax=nope&model=%00")
    assert f"{st.to_query(state)!r}" in code and "layer=0&" in code and "kmax=10&" in code
    assert "model=minilm&" in code and "# 'minilm': the bundled all-MiniLM-L6-v2" in code
    assert "figures = transformer_figures(resolved)" in python_code.code_for("tf", None)
