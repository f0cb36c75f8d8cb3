""""Copy as Python": the code that makes a page's figures in a notebook, with the exact
settings of its link (no Dash). Each function takes the page's validated state and returns
a self-contained script that leaves the figure specs (plain dicts, what the page draws) in
a variable ``figures``; ``polyviz.figures.common.figure(spec)`` turns one into a Plotly
Figure (``.show()``).
"""

from __future__ import annotations

import textwrap

from polyviz import state as st

SHOW = ("\n# one of them as a Plotly figure:\n"
        "# from polyviz.figures.common import figure\n"
        "# figure(figures[{first!r}]).show()\n")


def _affine(state) -> str:
    return "(" + ", ".join(repr(float(v)) for v in state.affine) + ")"


def stretch_fold_code(state) -> str:
    """/stretch-fold: one :func:`polyviz.figures.stretch_fold_specs` call with the link's arguments."""
    return (
        "from polyviz import figures as pvf\n\n"
        "figures = pvf.stretch_fold_specs(\n"
        f"    op={state.op!r}, t={state.t!r}, eps={state.eps!r}, n={state.n!r},\n"
        f"    distribution={state.dist!r}, seed={state.seed!r},\n"
        f"    affine={_affine(state)},\n"
        ")\n"
        + SHOW.format(first="circle")
    )


def _data_note(state) -> str:
    if not getattr(state, "data", ""):
        return ""
    return ("# This link trains on uploaded or drawn data (data = its content hash): load the same file with\n"
            "# polyviz.userdata.parse_csv(open('your.csv', 'rb').read()) and pass it as user= below.\n")


def train_code(state) -> str:
    """/train: the link's state, the same training run (deterministic for its seed) and the
    page's figures (:func:`polyviz.pages.train.run_figures`, which calls polyviz.figures)."""
    return (
        "from polyviz import state as st\n"
        "from polyviz.pages.train import TrainState, run_figures, train_for_state\n\n"
        + _data_note(state)
        + f"state, notices = st.from_query(TrainState, {st.to_query(state)!r})\n"
        "result, data = train_for_state(state)  # the run the page trains: same data, seed and steps\n"
        "figures = run_figures(state, result, data)  # curves, boundary, animation, checkpoints, confusion\n"
        + SHOW.format(first="curves")
    )


def compare_code(state) -> str:
    """/compare: the link's state, every column trained as /train would, and the page's figures."""
    return (
        "from polyviz import state as st\n"
        "from polyviz.pages.compare import CompareState, compare_figures, train_all\n\n"
        + _data_note(state)
        + f"state, notices = st.from_query(CompareState, {st.to_query(state)!r})\n"
        "runs = train_all(state)  # column -> TrainResult, each the same run as on /train\n"
        "figures = compare_figures(state, runs)  # 'curves' and, per column, boundary / neurons / animation\n"
        + SHOW.format(first="curves")
    )


def _comment(text: str) -> str:
    return "".join(f"# {line}\n" for line in textwrap.wrap(text, 96))


def sphere_code(state, model: str = "random", why: str = "") -> str:
    """/sphere: the link's state, its layer and the page's four figures
    (:func:`polyviz.pages.sphere.sphere_figures`). ``model`` says where a trained layer's model
    comes from: "retrain" (the link's ``train`` settings train it, as the page's “Retrain this
    model” does), "zip" (the link has no such settings: its .zip is loaded) or "random" (the
    page draws a random layer; ``why``: the page's reason, when it names a trained one)."""
    head = ("from polyviz import state as st\n"
            "from polyviz.pages.sphere import SphereState, "
            + ("TrainedModel, " if model == "zip" else "") + "sphere_figures"
            + (", retrained_model" if model == "retrain" else "") + "\n")
    if model == "zip":
        head += "from polyviz.records import read_model_zip\n"
    body = f"\nstate, notices = st.from_query(SphereState, {st.to_query(state)!r})\n"
    if model == "retrain":
        from polyviz.pages.train import TrainState  # that module imports polyviz.pages.sphere

        train_state, _ = st.from_query(TrainState, state.train)
        user = ("from polyviz.userdata import parse_csv\n\n"
                "# your data, uploaded or drawn on /train (data= is its content hash): the same file\n"
                "user = parse_csv(open('your-data.csv', 'rb').read())\n") if train_state.data else "user = None\n"
        body += (user
                 + "# the Toy classifiers run of the link's train= settings, trained again: the same data, seed and\n"
                   "# steps give the same weights (unless the server's time limit stopped the page's run early)\n"
                   "model = retrained_model(state, user)\n")
    elif model == "zip":
        body += ("# This link's model comes with no training settings (a model opened from its .zip on /sphere):\n"
                 "# load the same file, the .zip that “Download model” on the Toy classifiers page gives.\n"
                 "# polyviz.records.read_model_zip reads it (model.safetensors and model.json, nothing unpickled).\n"
                 "with open('model.zip', 'rb') as file:\n"
                 "    model = TrainedModel.from_upload(state.model, read_model_zip(file.read()))\n")
    else:
        body += _comment(f"The page draws a random layer for this link: {why}") if why else ""
        body += "model = None  # a seeded random layer (seed, neurons, wscale, bscale)\n"
    return (head + body
            + "figures = sphere_figures(state, model)  # 'scene', 'circle', 'rotation', 'scaling'\n"
            + SHOW.format(first="scene"))


def transformer_code(state) -> str:
    """/transformer: the model by its allow-listed name, the link's text, layer and probe
    settings narrowed to it as the page narrows them, and the page's five figures
    (:func:`polyviz.pages.transformer.transformer_figures`)."""
    from polyviz import transformer as tf

    if state.model == tf.DEFAULT_MODEL:
        load = f"model = tf.load(state.model)  # {state.model!r}: the bundled all-MiniLM-L6-v2\n"
    else:  # a name the server's allow-list gives a checkpoint: the notebook's must give it too
        load = (f"# {state.model!r} is a name on the server's allow-list: give it here too, e.g.\n"
                f"# os.environ[{tf.MODELS_ENV!r}] = '{tf.DEFAULT_MODEL},{state.model}=<its checkpoint directory "
                f"or Hugging Face id>'\n"
                "model = tf.load(state.model)\n")
    return (
        "from polyviz import state as st\n"
        "from polyviz import transformer as tf\n"
        "from polyviz.pages.transformer import TransformerState, resolve, transformer_figures\n\n"
        f"state, notices = st.from_query(TransformerState, {st.to_query(state)!r})\n"
        + load +
        "# the state narrowed to the model as the page narrows it (layers, the text's tokens, A, B);\n"
        "# tf.load loads a model once per process, so this is the model above\n"
        "resolved = resolve(state, notices)\n"
        "figures = transformer_figures(resolved)  # 'circle', 'rotation', 'scaling', 'direction', 'massive'\n"
        + SHOW.format(first="circle")
    )
