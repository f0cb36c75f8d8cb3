""""Copy as Python" on every page: the code box follows the page's canonical query (the same
one the address bar shows), so the copied code makes the figures of the link
(:mod:`polyviz.notebook`)."""

from __future__ import annotations

from dash import Input, Output, callback

from callbacks.sphere import load_view
from layouts import compare as compare_ids
from layouts import sphere as sphere_ids
from layouts import stretch_fold as stretch_fold_ids
from layouts import train as train_ids
from layouts import transformer as transformer_ids
from polyviz import notebook
from polyviz import state as st
from polyviz.pages.compare import CompareState
from polyviz.pages.sphere import NO_MODEL, SphereState
from polyviz.pages.stretch_fold import StretchFoldState
from polyviz.pages.train import TrainState
from polyviz.pages.transformer import TransformerState
from services import run_store


def sphere_code(state: SphereState) -> str:
    """/sphere: where the link's trained model comes from decides the code. Its ``train``
    settings, when they train that model (checked, as the retrain button checks them); else
    its .zip, when the model is there (an uploaded one, or a link without settings); else the
    random layer the page draws, and why."""
    if state.source != "trained" or not state.model:
        return notebook.sphere_code(state, "random", NO_MODEL if state.source == "trained" else "")
    if state.train and run_store.retrain_state(state.model, state.train) is not None:
        return notebook.sphere_code(state, "retrain")
    view = load_view(state)
    if view.model is not None:
        return notebook.sphere_code(state, "zip")
    return notebook.sphere_code(state, "random", view.problem or "")


PAGES = {  # prefix -> (the page's query store, its state, the code)
    "sf": (stretch_fold_ids.QUERY, StretchFoldState, notebook.stretch_fold_code),
    "tr": (train_ids.QUERY, TrainState, notebook.train_code),
    "cmp": (compare_ids.QUERY, CompareState, notebook.compare_code),
    "sp": (sphere_ids.QUERY, SphereState, sphere_code),
    "tf": (transformer_ids.QUERY, TransformerState, notebook.transformer_code),
}


def code_for(prefix: str, query) -> str:
    """The Python for a page's query (a payload can hold anything: it is validated again)."""
    _store, cls, make = PAGES[prefix]
    state, _ = st.from_query(cls, query if isinstance(query, str) else "")
    return make(state)


for _prefix, (_store, _cls, _make) in PAGES.items():
    callback(Output(f"{_prefix}-python-code", "children"), Input(_store, "data"))(
        lambda query, prefix=_prefix: code_for(prefix, query))
