""""Copy as Python" on the Stretch & fold, Toy classifiers and Compare pages: the code box
follows the page's canonical query (the same one the address bar shows), so the copied code
makes the figures of the link (:mod:`polyviz.notebook`)."""

from __future__ import annotations

from dash import Input, Output, callback

from layouts import compare as compare_ids
from layouts import stretch_fold as stretch_fold_ids
from layouts import train as train_ids
from polyviz import notebook
from polyviz import state as st
from polyviz.pages.compare import CompareState
from polyviz.pages.stretch_fold import StretchFoldState
from polyviz.pages.train import TrainState

PAGES = {  # prefix -> (the page's query store, its state, the code)
    "sf": (stretch_fold_ids.QUERY, StretchFoldState, notebook.stretch_fold_code),
    "tr": (train_ids.QUERY, TrainState, notebook.train_code),
    "cmp": (compare_ids.QUERY, CompareState, notebook.compare_code),
}


def code_for(prefix: str, query) -> str:
    """The Python for a page's query (a payload can hold anything: it is validated again)."""
    _store, cls, make = PAGES[prefix]
    state, _ = st.from_query(cls, query if isinstance(query, str) else "")
    return make(state)


for _prefix, (_store, _cls, _make) in PAGES.items():
    callback(Output(f"{_prefix}-python-code", "children"), Input(_store, "data"))(
        lambda query, prefix=_prefix: code_for(prefix, query))
