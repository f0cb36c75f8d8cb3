"""The "Polytopes on the LayerNorm sphere" page (/sphere): its state and limits, which layer a
state names, and the words that describe what the page computes.

Everything here is plain values: the page's callbacks validate widget values into a
:class:`SphereState`, pick the layer with :func:`layer_view` (given the trained model they
read from the cache, if the state names one), draw it with :func:`scene_figure`,
:func:`probe_figures` (:func:`circle_figure` and :func:`rotation_figure`) and
:func:`scaling_figure` (all four: :func:`sphere_figures`, what a notebook calls; EXPORT_FIGURES
names them) and say what the figures' ``meta`` holds with :func:`summary_text`,
:func:`rotation_words` and :func:`scaling_words`.

In a notebook, for a link's query (a trained layer: :func:`retrained_model` trains its model
again from the link's ``train`` settings)::

    state, notices = st.from_query(SphereState, "dim=4&neurons=9&seed=3")
    figures = sphere_figures(state)  # scene, circle, rotation, scaling
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from polyviz import polytopes as pt
from polyviz.figures import sphere as fs
from polyviz.geometry import layernorm_plane_basis
from polyviz import state as st
from polyviz.polytopes import ACTIVATIONS
from polyviz.models import ACTIVATION_NAMES, layer_weights
from polyviz.polytopes.tolerances import ANGLE_ATOL, POINT_TOL, SPHERE_TANGENT_RADIUS, SPHERE_TANGENT_TOL
from polyviz.words import ordinal, plural

# Where the layer comes from: a seeded random layer, or Linear layer ``layer`` of a model
# trained on the Toy classifiers page (``model`` is its 40-hex id, as in that page's links
# /sphere?source=trained&model=<id>&layer=<k>; the callbacks read it from the shared cache).
SOURCES = ("random", "trained")
MODEL_PATTERN = r"(?:[0-9a-f]{40})?"  # a model id, or empty
MODEL_FORM = "exactly 40 lowercase hex digits (the model id of a Toy classifiers link), or empty"
# The /train query that trains ``model`` (links from the Toy classifiers page carry it), so an
# expired or evicted model can be trained again to the same weights from the link alone.
TRAIN_PATTERN = r"[A-Za-z0-9_.~%&=+-]*"
TRAIN_FORM = "the settings of a /train link (letters, digits and _ . ~ % & = + -), or empty"
LAYERS = (1, 8)  # a trained model's Linear layers after hidden layer 1..depth (depth <= 8 on /train)
DIMS = (3, 4)
NEURONS = (1, 64)
K_RANGE = (0.01, 50.0)
KMAX_RANGE = (0.5, 50.0)


@dataclass(frozen=True)
class SphereState:
    source: str = st.choice("random", SOURCES, label="source")
    dim: int = st.integer(3, DIMS[0], DIMS[-1], label="dim")
    neurons: int = st.integer(12, *NEURONS, label="neurons")
    seed: int = st.integer(0, 0, 2**31 - 1, label="seed")
    wscale: float = st.number(1.0, 0.1, 4.0, label="wscale")
    bscale: float = st.number(0.5, 0.0, 2.0, label="bscale")
    act: str = st.choice("relu", ACTIVATIONS, label="act")
    v_az: float = st.number(30.0, 0.0, 360.0, label="v_az")
    v_el: float = st.number(20.0, -90.0, 90.0, label="v_el")
    w_az: float = st.number(160.0, 0.0, 360.0, label="w_az")
    w_el: float = st.number(-15.0, -90.0, 90.0, label="w_el")
    k: float = st.number(2.0, *K_RANGE, label="k")
    kmax: float = st.number(10.0, *KMAX_RANGE, label="kmax")
    full: bool = st.flag(False, label="full")
    model: str = st.text("", MODEL_PATTERN, label="model", describe=MODEL_FORM)
    layer: int = st.integer(1, *LAYERS, label="layer")
    train: str = st.text("", TRAIN_PATTERN, label="train", describe=TRAIN_FORM, max_len=1000)
    cam: str = st.camera(label="cam")  # how the 3-D scene is looked at (empty: the figure's own camera)

    def checked(self):
        """Cross-field rule: the current scale k lies in (0, kmax]."""
        if self.k > self.kmax:
            return (dataclasses.replace(self, k=self.kmax),
                    [f"k = {self.k:g} is above kmax (allowed: {K_RANGE[0]:g} to kmax = {self.kmax:g}); "
                     f"using {self.kmax:g}."])
        return self, []


def directions(state: SphereState) -> tuple[np.ndarray, np.ndarray]:
    """The unit directions v and w of the LayerNorm plane the state's angles name."""
    return (pt.plane_direction(state.dim, state.v_az, state.v_el),
            pt.plane_direction(state.dim, state.w_az, state.w_el))


# --- the sphere a trained layer's inputs lie on ---------------------------------------------

@dataclass(frozen=True)
class InputSphere:
    """The sphere on which a Linear layer's inputs lie (as ε -> 0), from what feeds the layer.

    ``kind``: "unit" (u_ε: the unit sphere of R^width), "rms" (RMSNorm: radius √width) or
    "layernorm" (LayerNorm: radius √width in the hyperplane ⟂ (1, ..., 1)). ``feeder`` names
    the map that puts the points there (for the words).

    The page draws two kinds of sphere: the LayerNorm circle (d = 3) and a 2-sphere (d = 4,
    drawn at unit scale in 3-D axes). A LayerNorm of width 3 or 4 is one of those as it is. The
    unit or RMS sphere of R³ is a 2-sphere too: the page draws it as the d = 4 sphere with
    the equivalent layer :meth:`page_layer` (exactly the same values on the same points), and
    the drawn axes are the activations' own axes."""

    kind: str
    width: int
    feeder: str

    @property
    def radius(self) -> float:
        return 1.0 if self.kind == "unit" else math.sqrt(self.width)

    @property
    def drawable(self) -> bool:
        return self.width in DIMS if self.kind == "layernorm" else self.width == 3

    @property
    def dim(self) -> int:
        """The page's d for this sphere (the width of :meth:`page_layer`'s input)."""
        return self.width if self.kind == "layernorm" else self.width + 1

    def page_layer(self, W, b) -> tuple[np.ndarray, np.ndarray]:
        """A layer on the page's LayerNorm sphere of R^dim equal to (W, b) on this sphere: for a
        point x of this sphere and y = page_points(x), ``page_W y + b == W x + b``."""
        W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if self.kind == "layernorm":
            return W, b
        helmert = layernorm_plane_basis(self.dim)  # (width, dim), orthonormal rows
        return self.radius / math.sqrt(self.dim) * W @ helmert, b

    def ray_layer(self, page_W) -> tuple[np.ndarray, float]:
        """For the scaling chart: (W_ray, radius) with ``W_ray (k v)`` the layer's values on the
        raw ray k·e (e the activation-space direction of the page's v, e = B v) and
        ``W_ray (radius v)`` its values on the normalised point, as ε -> 0."""
        if self.kind == "layernorm":
            return np.asarray(page_W, dtype=np.float64), math.sqrt(self.width)
        return np.asarray(page_W, dtype=np.float64) * math.sqrt(self.dim) / self.radius, self.radius

    def page_points(self, A) -> np.ndarray:
        """Points of this sphere (N, width) in the page's R^dim: the LayerNorm images they are
        equivalent to. u_ε with ε > 0 puts points just inside the sphere; they are moved
        radially onto it (:meth:`off_sphere` says by how much); LayerNorm's likewise."""
        A = np.asarray(A, dtype=np.float64)
        if self.kind == "layernorm":
            A = A - A.mean(axis=1, keepdims=True)
        unit = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-300)
        if self.kind == "layernorm":
            return self.radius * unit
        return math.sqrt(self.dim) * unit @ layernorm_plane_basis(self.dim)

    def off_sphere(self, A) -> float:
        """The largest relative distance of points A (N, width) from this sphere."""
        A = np.asarray(A, dtype=np.float64)
        if self.kind == "layernorm":
            A = A - A.mean(axis=1, keepdims=True)
        if len(A) == 0:
            return 0.0
        return float(np.max(np.abs(np.linalg.norm(A, axis=1) / self.radius - 1.0)))

    def words(self) -> str:
        """Where the sphere is, in words."""
        space = {2: "R²", 3: "R³", 4: "R⁴"}.get(self.width, f"R^{self.width}")
        if self.kind == "unit":
            return f"the unit sphere of {space}"
        if self.kind == "rms":
            return f"the sphere of radius √{self.width} in {space}"
        shape = "circle" if self.width == 3 else "sphere"
        return f"the LayerNorm {shape} (radius √{self.width} in the hyperplane ⟂ (1, …, 1) of {space})"

    @property
    def surface(self) -> str:
        """A short name for titles."""
        if self.kind == "layernorm":
            return "LayerNorm circle" if self.width == 3 else "LayerNorm sphere"
        return ("unit sphere S² of R³" if self.kind == "unit" else f"sphere of radius √{self.width} in R³") + \
            f" ({self.feeder})"


# What feeds a Linear layer, by the model's activation: the ones that put their output on a
# sphere. group_layernorm with one group is LayerNorm; more groups give a product of spheres.
FEEDERS = {"u_eps": ("unit", "u_ε"), "rmsnorm": ("rms", "RMSNorm"), "layernorm": ("layernorm", "LayerNorm")}


def input_sphere(config, k: int) -> InputSphere | None:
    """The sphere Linear layer k (1 = the one after hidden layer 1) reads its inputs from, or
    None when what feeds it puts them on no sphere (ReLU, GELU, tanh, DyT, none, grouped
    LayerNorm) or k is the first layer (it reads the data). An architecture whose Linear layer
    reads a LayerNorm's output (a pre-LN block) answers "layernorm" here, and the page draws
    the data's LayerNorm images on the LayerNorm sphere."""
    if not 1 <= k <= config.depth:
        return None
    act = config.activation
    if act == "group_layernorm" and getattr(config, "groups", 1) == 1:
        act = "layernorm"
    if act not in FEEDERS:
        return None
    kind, feeder = FEEDERS[act]
    return InputSphere(kind, int(config.width), feeder)


def drawable_layers(config) -> list[int]:
    """Layers k of a model of this config that the page draws (as :func:`shown_layers` for a
    model whose output layer has one neuron): their input sphere is a circle or 2-sphere and
    they are not the one-neuron output layer."""
    return [k for k in range(1, config.depth) if (s := input_sphere(config, k)) is not None and s.drawable]


def layer_inputs(params, k: int, X) -> tuple[np.ndarray, InputSphere | None]:
    """Linear layer k's inputs for data X: (points (N, width), the sphere they lie on)."""
    from polyviz.models import _as_params, hidden_activations  # torch: only when a model is read

    p = _as_params(params)
    acts, _ = hidden_activations(p, X)
    return acts[k].astype(np.float64), input_sphere(p.config, k)


DATA_POINTS = 600  # training points drawn on a trained layer's sphere


def training_sample(source, user=None, in_dim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): a class-stratified sample of a run's training data (polyviz.records.DataSource).
    For your own data, ``user`` is that data (polyviz.userdata.UserData); without it (gone from
    the cache) the sample is empty, of ``in_dim`` columns, and the page draws no points."""
    from polyviz.datasets import make_dataset, train_test_split
    from polyviz.embedding import subsample

    if source.user_data_hash is not None:
        if user is None or user.content_hash != source.user_data_hash:
            return np.zeros((0, in_dim), np.float32), np.zeros(0, np.int64)
        X, y = user.X, user.y
    else:
        X, y = make_dataset(source.name, source.n, source.noise, source.seed)
    Xtr, _, ytr, _ = train_test_split(X, y, source.train_ratio, source.seed)
    keep = subsample(ytr, DATA_POINTS, seed=0)
    return Xtr[keep], ytr[keep]


# --- which layer the page draws -------------------------------------------------------------

UPLOAD_LABEL = "Open a downloaded model (.zip)"
# A width-64, depth-8 model's .zip is ~120 KB; 1 MB as base64 (~1.4 MB) stays under the server's
# 2 MB request cap (app.py), so a file over the limit is answered in words, not by a refused request.
UPLOAD_MAX_BYTES = 2**20
UPLOAD_HELP = ("The .zip that “Download model” on the Toy classifiers page gives (model.safetensors and "
               f"model.json, at most {UPLOAD_MAX_BYTES // 2**20} MB) opens here as a trained model.")


UPLOAD_OUTAGE = "the shared cache (Redis) cannot be reached right now, so it cannot be kept; try again in a moment"


def upload_refused(reason: str) -> str:
    """The notice for an uploaded model file that cannot be opened, and why."""
    return f"The model file was not opened: {reason}."


NO_MODEL = ("No trained model is chosen yet: train a model on the Toy classifiers page and follow its "
            "“Open layer k on the sphere page” link. Until then this is a random layer.")


@dataclass(frozen=True)
class TrainedModel:
    """What the page needs of a trained model (:meth:`from_run`: a run of the Toy classifiers
    page, which the callbacks read from the cache): its Linear layers and what it is."""

    model_id: str
    dataset: str
    in_dim: int
    width: int
    depth: int
    activation: str
    test_acc: float | None
    query: str | None  # the /train query that reopens its run
    layers: tuple  # ((W, b), ...) of every Linear layer, input to output
    params: object = None  # the model (MLPParams), for its activations
    data: tuple | None = None  # (X, y): a class-stratified sample of its training data

    @classmethod
    def from_run(cls, model_id: str, run, user=None) -> "TrainedModel":
        """The model of a :class:`polyviz.records.TrainedRun`; ``user``: the data it was trained
        on when that is your own (polyviz.userdata.UserData), for its points."""
        config, acc = run.config, run.final_test_acc
        return cls(model_id=model_id, dataset=run.data.name[:40], in_dim=config.in_dim, width=config.width,
                   depth=config.depth, activation=config.activation,
                   test_acc=acc if acc is not None and math.isfinite(acc) else None,
                   query=run.query if len(run.query) < 2000 else None,
                   layers=tuple(layer_weights(run.params, i) for i in range(config.n_layers)),
                   params=run.params, data=training_sample(run.data, user, config.in_dim))

    @classmethod
    def from_upload(cls, model_id: str, params) -> "TrainedModel":
        """The model of an uploaded .zip (:func:`polyviz.records.read_model_zip`): what its
        model.json says of its data and accuracy is read if it is well formed, else left out
        (an upload can hold anything); no training points are drawn when its data cannot
        be made again here (your own data, or a data set this code does not know)."""
        from polyviz.records import DataSource

        config, meta = params.config, params.meta if isinstance(params.meta, dict) else {}
        try:
            source = DataSource.from_dict(meta["data"])
            if source.user_data_hash is not None:
                raise ValueError("trained on your own data, which the .zip does not hold")
            data = training_sample(source)
            dataset = source.name[:40]
        except (KeyError, TypeError, ValueError):
            data, dataset = (np.zeros((0, config.in_dim), np.float32), np.zeros(0, np.int64)), "unknown data"
        metrics = meta.get("metrics")
        acc = metrics.get("final_test_accuracy") if isinstance(metrics, dict) else None
        query = meta.get("query")
        return cls(model_id=model_id, dataset=dataset, in_dim=config.in_dim, width=config.width,
                   depth=config.depth, activation=config.activation,
                   test_acc=float(acc) if isinstance(acc, (int, float)) and math.isfinite(acc) else None,
                   query=query if isinstance(query, str) and len(query) < 2000 else None,
                   layers=tuple(layer_weights(params, i) for i in range(config.n_layers)), params=params, data=data)

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [tuple(W.shape) for W, _ in self.layers]

    def sphere(self, k: int) -> InputSphere | None:
        """The sphere layer k's inputs lie on (:func:`input_sphere`)."""
        return input_sphere(self.params.config, k)

    def inputs(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Layer k's inputs for the sample of the training data, and their class labels."""
        X, y = self.data
        return layer_inputs(self.params, k, X)[0], y

    def words(self) -> str:
        acc = f", test accuracy {self.test_acc:.1%}" if self.test_acc is not None else ""
        return (f"{self.dataset}, width {self.width}, depth {self.depth}, "
                f"{ACTIVATION_NAMES.get(self.activation, '?')}{acc}")


@dataclass(frozen=True)
class LayerView:
    """The layer the page draws. ``state`` is the state as drawn (a trained layer sets d and
    the number of neurons); ``trained`` when it is a trained model's layer; ``model`` the
    model the state names, when it is cached (also when its layer cannot be shown);
    ``problem`` says why a trained layer that was asked for is not shown (a random one is)."""

    state: SphereState
    W: np.ndarray
    b: np.ndarray
    w_out: np.ndarray
    trained: bool = False
    model: TrainedModel | None = None
    readout: str = "random"  # "next": the first row of layer k + 1's weights
    problem: str | None = None
    sphere: InputSphere | None = None  # a trained layer: the sphere its inputs lie on
    points: np.ndarray | None = None  # a trained layer: the data's inputs to it, in the page's R^d
    labels: np.ndarray | None = None  # their classes
    off_sphere: float = 0.0  # how far (relative) those points were from the sphere before drawing

    @property
    def notice(self) -> str | None:
        """The problem as a notice: a trained layer that cannot be shown, and why (not the
        hint that no model is chosen yet)."""
        return self.problem if self.problem and self.problem != NO_MODEL else None


def _choose(ks: list[int]) -> str:
    words = [str(k) for k in ks]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def shown_layers(model: TrainedModel) -> list[int]:
    """The layers of this model the page can draw: their inputs lie on a circle or 2-sphere it
    draws, and they have more than one neuron (a one-neuron output layer only halves it)."""
    shapes = model.shapes
    return [k for k in range(1, len(shapes)) if layer_problem(model, k, choose=False) is None]


def layer_problem(model: TrainedModel, k: int, choose: bool = True) -> str | None:
    """Why layer k of this model cannot be shown here (in words, with what is allowed), or None."""
    shapes = model.shapes
    if not choose:
        eligible_words = ""
    else:
        eligible = shown_layers(model)
        eligible_words = ("; choose layer " + _choose(eligible) if eligible else
                          "; this model has none: the page draws the layers fed by u_ε or RMSNorm of width 3, "
                          "or by LayerNorm of width 3 or 4, that have more than one neuron")
    tail = f"{eligible_words}. Showing a random layer instead."
    if not 1 <= k < len(shapes):
        return (f"layer {k} does not exist: this model (depth {model.depth}) has layers 1 to {model.depth}, the "
                f"last being its output layer{tail}")
    out, width = shapes[k]
    sphere = model.sphere(k)
    if sphere is None:
        act = ACTIVATION_NAMES.get(model.activation, model.activation)
        return (f"layer {k} of this model reads {act} activations, which lie on no sphere; the sphere page draws "
                f"layers whose inputs a normalisation puts on a sphere{tail}")
    if not sphere.drawable:
        return (f"layer {k} of this model reads {width}-D inputs on {sphere.words()}, which the page cannot draw "
                f"(it draws a circle or a 2-sphere){tail}")
    if out == 1 and k == len(shapes) - 1:
        return (f"layer {k} is this model's output layer, a single neuron: its one plane only halves the sphere "
                f"(the decision boundary of the Toy classifiers page){tail}")
    return None


def random_view(state: SphereState, problem: str | None = None, model: TrainedModel | None = None) -> LayerView:
    W, b = pt.random_layer(state.neurons, state.dim, seed=state.seed, weight_scale=state.wscale,
                           bias_scale=state.bscale)
    return LayerView(state, W, b, pt.random_readout(state.neurons, state.seed), model=model, problem=problem)


def layer_view(state: SphereState, model: TrainedModel | None) -> LayerView:
    """The layer the state names: random, or layer ``state.layer`` of the trained model
    ``state.model`` (falling back to the random layer, with the reason, when it cannot be
    shown). ``model``: that model as read from the cache, None when it is not there."""
    if state.source != "trained":
        return random_view(state)
    if not state.model:
        return random_view(state, NO_MODEL)
    if model is None:
        if state.train:  # the callbacks checked that these settings train this model
            return random_view(state, (
                f"model {state.model[:12]}… is no longer in the cache (it expired or was evicted). This link "
                f"carries its training settings: press “Retrain this model” to train it again (the same "
                f"settings give the same weights) and open this layer. Showing a random layer until then."))
        return random_view(state, (
            f"model {state.model[:12]}… is not in the cache (an unknown id, or its training run has expired): "
            f"train it on the Toy classifiers page and follow its layer link again. Showing a random layer "
            f"instead."))
    problem = layer_problem(model, state.layer)
    if problem:
        return random_view(state, problem, model)
    W, b = model.layers[state.layer]
    if state.layer + 1 < len(model.layers):
        w_out, readout = model.layers[state.layer + 1][0][0].copy(), "next"
    else:
        w_out, readout = pt.random_readout(W.shape[0], state.seed), "random"
    sphere = model.sphere(state.layer)
    page_W, page_b = sphere.page_layer(W, b)
    A, labels = model.inputs(state.layer)
    drawn = dataclasses.replace(state, dim=sphere.dim, neurons=int(W.shape[0]))
    return LayerView(drawn, page_W, page_b, w_out, trained=True, model=model, readout=readout, sphere=sphere,
                     points=sphere.page_points(A), labels=np.asarray(labels), off_sphere=sphere.off_sphere(A))


def retrained_model(state: SphereState, user=None) -> TrainedModel:
    """Model ``state.model`` trained again from the link's ``train`` settings, as the page's
    "Retrain this model" does: the Toy classifiers page's run of those settings
    (:func:`polyviz.pages.train.trained_run`, deterministic for its seed). ``user``: the data
    (polyviz.userdata.UserData) when the settings train on your own data. The caller checks
    that the settings train this model (the page: services.run_store.retrain_state)."""
    from polyviz.pages.train import TrainState, trained_run  # that module imports this one

    train_state, _notices = st.from_query(TrainState, state.train)
    return TrainedModel.from_run(state.model, trained_run(train_state, user=user), user=user)


# --- the figures ----------------------------------------------------------------------------

def _surface(view: LayerView) -> str | None:
    """The sphere's name for the figures when a trained layer's is not the LayerNorm sphere."""
    return view.sphere.surface if view.trained and view.sphere.kind != "layernorm" else None


def scene_figure(view: LayerView) -> dict:
    """The 3-D scene: the layer's arcs (d = 3) or regions (d = 4), v, w, k·v and, for a trained
    layer, the training data's inputs to it."""
    state = view.state
    v, w = directions(state)
    return fs.scene_spec(view.W, view.b, v, w, state.k, activation=state.act, seed=state.seed, points=view.points,
                         labels=view.labels, surface=_surface(view))


def circle_figure(view: LayerView) -> dict:
    """The great circle from v towards w, unrolled."""
    v, w = directions(view.state)
    return fs.great_circle_spec(view.W, view.b, v, w, activation=view.state.act)


def rotation_figure(view: LayerView) -> dict:
    """The rotation probe of the readout from v towards w (a full turn with ``full``)."""
    v, w = directions(view.state)
    return fs.rotation_spec(view.W, view.b, view.w_out, v, w, activation=view.state.act,
                            full_circle=view.state.full)


def probe_figures(view: LayerView) -> tuple[dict, dict]:
    """(the unrolled great circle from v towards w, the rotation probe of the readout)."""
    return circle_figure(view), rotation_figure(view)


def ray_layer(view: LayerView):
    """(W, radius) the scaling chart reads the ray k·v with: for a trained layer fed by another
    normalisation, the raw ray k·e in the activations' space and that sphere's radius;
    otherwise the layer itself and None (LayerNorm)."""
    if view.trained and view.sphere.kind != "layernorm":
        return view.sphere.ray_layer(view.W)
    return view.W, None


def scaling_figure(view: LayerView) -> dict:
    """Spline codes met by the ray k·v, k in (0, kmax], without and with the normalisation."""
    state = view.state
    v, _ = directions(state)
    W_ray, radius = ray_layer(view)
    if radius is not None:
        return fs.scaling_spec(W_ray, view.b, v, state.kmax, k=state.k, norm_radius=radius,
                               norm_name=view.sphere.feeder)
    return fs.scaling_spec(view.W, view.b, v, state.kmax, k=state.k)


def sphere_figures(state: SphereState, model: TrainedModel | None = None) -> dict:
    """The page's four figure specs for a state: "scene", "circle", "rotation", "scaling".
    ``model``: the trained model the state names (None: the layer :func:`layer_view` falls
    back to, a random one)."""
    view = layer_view(state, model)
    circle, rotation = probe_figures(view)
    return {"scene": scene_figure(view), "circle": circle, "rotation": rotation, "scaling": scaling_figure(view)}


# --- words --------------------------------------------------------------------------------

def readout_words(view: LayerView) -> str:
    """Where a trained layer's readout w_out comes from."""
    k = view.state.layer
    if view.readout == "next":
        last = k + 1 == view.model.depth
        return (f"the first row of layer {k + 1}'s weights" + (" (the model's output logit)" if last else
                                                               " (the next layer's first neuron)"))
    return f"random (seed {view.state.seed}), as layer {k} is the model's output layer"


def where_inputs_live(view: LayerView) -> str:
    """Where the trained model puts this layer's inputs: the sphere drawn, and the data on it."""
    sphere, k = view.sphere, view.state.layer
    n = len(view.labels) if view.labels is not None else 0
    words = (f"In the model, {sphere.feeder} puts layer {k}'s inputs on {sphere.words()}: that is what is drawn, "
             f"with {plural(n, 'training point')}' activations on it (blue class 0, red class 1) and layer {k}'s "
             f"{plural(view.state.neurons, 'plane')} cutting it into regions.")
    if sphere.kind != "layernorm":
        words += (" A sphere in R³ is a 2-sphere like the LayerNorm sphere of R⁴, so the page treats it as "
                  "d = 4 with the same layer on it; the drawn axes are the activations' own.")
    if view.off_sphere > 1e-4:
        words += (f" With ε > 0 the activations sit just inside the sphere (up to {view.off_sphere:.1%} of its "
                  f"radius); they are drawn moved radially onto it.")
    return words


def random_note(view: LayerView) -> str:
    """Why the random layer's settings are switched off while a trained layer is shown."""
    if not view.trained:
        return ""
    return ("Neurons and scales belong to the random layer and are not used while a trained layer is shown"
            + ("; the seed still draws its readout." if view.readout == "random" else "."))


def circle_precision_words(meta: dict, what: str = "circle") -> str:
    """How exact a count of crossings on a circle is (``meta`` of the arcs, unrolled or
    rotation figure): the angle tolerance that merges crossings, and any neuron that float64
    cannot decide, named as such."""
    words = f"Exact in float64 up to {ANGLE_ATOL:.0e} rad: crossings closer than that count as one boundary"
    merged = meta.get("merged", 0)
    words += (f" ({plural(merged, 'crossing')} here share a boundary with another neuron's)." if merged else ".")
    unresolved = meta.get("unresolved", 0)
    if unresolved:
        they = "it crosses" if unresolved == 1 else "they cross"
        words += (f" Not exact here: {plural(unresolved, 'neuron')} touch{'es' if unresolved == 1 else ''} the "
                  f"{what} within float64 rounding, so whether {they} it (in an arc narrower than about 1e-7 rad) "
                  f"cannot be decided; counted as not crossing.")
    return words


def sphere_precision_words(meta: dict) -> str:
    """How exact the region count of the sphere figure's ``meta`` is, with the tolerances that
    can merge real features."""
    words = (f"Euler's formula on the arrangement of circles, exact up to its tolerances: intersection points "
             f"closer than {POINT_TOL:.0e} are one vertex, and a plane within {SPHERE_TANGENT_TOL:.0e} of touching "
             f"the sphere (a circle of radius under {SPHERE_TANGENT_RADIUS:.1e}) cuts nothing.")
    dropped = meta.get("dropped_circles", 0)
    if dropped:
        words += (f" Not exact here: {plural(dropped, 'such tiny circle')} {'is' if dropped == 1 else 'are'} "
                  f"dropped, and the region inside each is missing from the count.")
    return words


def summary_words(state: SphereState, meta: dict, surface: str | None = None) -> str:
    """The arcs (d = 3) or regions (d = 4) of the scene's ``meta``, in words, with how exact
    the count is. ``surface``: the sphere's name when it is not the LayerNorm sphere."""
    neurons = plural(state.neurons, "neuron")
    if surface and state.dim == 4:
        return (f"{neurons} on {surface}: {plural(meta['circles'], 'boundary circle')} cut it into "
                f"{plural(meta['regions'], 'region')}. {sphere_precision_words(meta)}")
    if state.dim == 3:
        if meta["boundaries"] == 0:
            return (f"{neurons}, residual dimension 3: no neuron changes sign on the LayerNorm circle, "
                    f"so it is 1 arc with a single spline code. {circle_precision_words(meta)}")
        return (f"{neurons}, residual dimension 3: the LayerNorm circle is cut into {plural(meta['arcs'], 'arc')} "
                f"at {plural(meta['boundaries'], 'boundary point')}; they carry {plural(meta['codes'], 'spline code')}. "
                f"{circle_precision_words(meta)}")
    return (f"{neurons}, residual dimension 4: {plural(meta['circles'], 'boundary circle')} cut the LayerNorm sphere "
            f"into {plural(meta['regions'], 'region')}. {sphere_precision_words(meta)}")


def summary_text(view: LayerView, meta: dict) -> str:
    """The line above the figures: which layer is shown, and its arcs or regions."""
    surface = view.sphere.surface if view.trained and view.sphere.kind != "layernorm" else None
    words = summary_words(view.state, meta, surface)
    if view.trained:
        return f"Layer {view.state.layer} of the trained model ({view.model.words()}): {words}"
    if view.state.source == "trained":
        return f"A random layer, not a trained one (see under Source): {words}"
    return words


def rotation_words(state: SphereState, meta: dict, readout: str | None = None, surface: str | None = None) -> str:
    """The rotation probe's ``meta`` in words; ``readout``: where w_out comes from, if trained;
    ``surface``: the sphere's name when it is not the LayerNorm sphere."""
    if meta["parallel"]:
        path = ("w points along v or exactly opposite, so there is no single great circle from v to w: "
                "the probe goes a full turn through v. ")
    else:
        turn = " and on, a full turn" if state.full else ""
        start = f"v towards w on the {surface}" if surface else "LayerNorm(v) towards LayerNorm(w)"
        path = f"Rotating {start} ({math.degrees(meta['angle_end']):.0f}°{turn}): "
    crossings = meta["n_crossings"]
    kind = ("boundary crossing" if state.act == "relu" else "soft boundary (Φ = ½) crossing")
    smooth = ("the output is piecewise sinusoidal, with a kink at each crossing" if state.act == "relu"
              else "GELU keeps the output smooth through them")
    words = (f"{path}{plural(crossings, kind)}; the output changes by {meta['total_variation']:.3g} in total, "
             f"a total variation of {meta['tv_per_radian']:.3g} per radian; {smooth}. "
             f"{circle_precision_words(meta, 'great circle')}")
    return f"{words} The readout w_out is {readout}." if readout else words


def scaling_words(state: SphereState, meta: dict, sphere: InputSphere | None = None) -> str:
    """The scaling chart's ``meta`` in words: codes met by k·v without and with the
    normalisation (LayerNorm, or the trained layer's ``sphere`` when it is another)."""
    n = state.neurons
    root = "√3" if state.dim == 3 else "√4 = 2"
    norm, image = "LayerNorm", f"LayerNorm(k·v) = {root}·v"
    if sphere is not None and sphere.kind != "layernorm":
        r = "" if sphere.kind == "unit" else f"√{sphere.width}·"
        norm = sphere.feeder
        image = f"{norm}(k·v) = {r}v/|v| as ε → 0 (v a direction of R³)"
    return (f"Without {norm} the ray k·v, k in (0, {state.kmax:g}], meets "
            f"{plural(meta['without'], 'spline code')} (polytopes); at k = {meta['k']:.3g} it is in the "
            f"{ordinal(meta['region_without'])}, with {meta['on_without']} of {n} neurons on. "
            f"With {norm} it meets exactly {meta['with_layernorm']}: {image} for every "
            f"k > 0, with {meta['on_with']} of {n} neurons on.")


# The page's figures by the name its exports use (polyviz.exports.sphere_csv), with their labels.
EXPORT_FIGURES = {"scene": "arcs / regions (3-D)", "circle": "great circle, unrolled", "scaling": "scaling k·v",
                  "rotation": "rotation probe"}
FIGURE_BUILDERS = {"scene": scene_figure, "circle": circle_figure, "scaling": scaling_figure,
                   "rotation": rotation_figure}


def file_stem(view: LayerView) -> str:
    """The start of an exported file's name: the trained layer, or the random layer's settings."""
    state = view.state
    if view.trained:
        return f"polyviz-sphere-model-{state.model[:10]}-layer{state.layer}-{state.act}"
    return f"polyviz-sphere-d{state.dim}-{state.neurons}neurons-seed{state.seed}-{state.act}"
