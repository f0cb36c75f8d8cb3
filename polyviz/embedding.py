"""Layer-by-layer interpolation: how a trained classifier moves its data, layer by layer.

Each stage (the input, then every hidden layer's activations) is embedded in 3-D:

* width 3: as is (``"identity"``);
* width 1 or 2: padded with zeros (``"padded"``);
* wider: projected on the top three principal axes of that layer's activations
  (``"pca"``; a fixed fit on the points given, signs fixed so the result is deterministic);
* wider, for the last hidden layer (the one the output layer reads): the output layer's
  readout direction w / |w| is the third axis (z, pointing towards class 1) and the other two
  are the top principal axes of the activations with that direction removed (``"readout"``).

Frames interpolate linearly from stage to stage: ``frames_per_step`` frames per step, the
first frame is the input embedding and the frame at ``stage_frames[s]`` is stage s exactly,
so the last interpolation frame is the final activations. The output Linear layer's
decision set ``w . h + b = 0`` is a plane in the final embedding, exact for every width: the
identity and padded embeddings lose nothing, and the readout embedding keeps the one
coordinate the logit depends on, so a point is drawn on the side of the plane the model puts
it on (a plain 3-D PCA would not: the logit also depends on the discarded axes). Optional rotation frames then
spin the final stage (and its plane) once around the vertical axis through its centroid;
the full turn ends where it started, so the very last frame is the final activations again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from polyviz.models import _as_params, hidden_activations


@dataclass
class Embedding3D:
    """A fixed map from one layer's activations (N, k) to R^3."""

    method: str  # "identity" | "padded" | "pca" | "readout"
    mean: np.ndarray  # (k,) (zeros unless pca)
    components: np.ndarray  # (3, k): e = components @ (a - mean)

    def __call__(self, A: np.ndarray) -> np.ndarray:
        A = np.asarray(A, dtype=np.float64)
        return ((A - self.mean) @ self.components.T).astype(np.float32)

    def pull_back_plane(self, w: np.ndarray, b: float) -> tuple[np.ndarray, float]:
        """The set w . a + b = 0 written in embedding coordinates: (normal, offset)."""
        w = np.asarray(w, dtype=np.float64)
        return self.components @ w, float(w @ self.mean + b)


def _principal_axes(centred: np.ndarray, count: int) -> np.ndarray:
    """The top ``count`` principal axes (rows) of centred points, each signed so that its
    largest-magnitude entry is positive (a deterministic choice among +-axis)."""
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    # fewer points than axes span fewer axes (2 training points: 2 rows of vt); the missing
    # axes are zero, so every stage is still (N, 3)
    axes = np.zeros((count, centred.shape[1]))
    axes[:len(vt[:count])] = vt[:count]
    for row in axes:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return axes


def fit_embedding(A, readout=None) -> Embedding3D:
    """Choose the 3-D embedding for activations A (N, k): identity, zero padding or PCA.

    ``readout``: the direction w of the Linear layer that reads these activations (its
    logit is w . a + b). For k > 3 it becomes the third axis and the first two are the top
    principal axes of A with that direction projected out, so w . a is kept exactly and the
    plane w . a + b = 0 separates the embedded points as the model does."""
    A = np.asarray(A, dtype=np.float64)
    k = A.shape[1]
    if k <= 3:
        comps = np.zeros((3, k))
        comps[np.arange(k), np.arange(k)] = 1.0
        return Embedding3D("identity" if k == 3 else "padded", np.zeros(k), comps)
    mean = A.mean(axis=0)
    w = None if readout is None else np.asarray(readout, dtype=np.float64).reshape(-1)
    if w is None or not np.linalg.norm(w) > 0:  # no readout (or a zero one): plain PCA
        return Embedding3D("pca", mean, _principal_axes(A - mean, 3))
    if w.shape != (k,):
        raise ValueError(f"readout must have {k} entries (one per activation), got {w.shape}")
    u = w / np.linalg.norm(w)
    rest = (A - mean) - np.outer((A - mean) @ u, u)  # the activations with the readout direction removed
    axes = _principal_axes(rest, 2)
    # numerically orthogonal to u even when the rest has (near) zero variance
    axes -= np.outer(axes @ u, u)
    norms = np.linalg.norm(axes, axis=1, keepdims=True)
    axes = np.divide(axes, norms, out=np.zeros_like(axes), where=norms > 1e-12)
    return Embedding3D("readout", mean, np.vstack([axes, u]))


@dataclass
class LayerEmbedding:
    """Every stage embedded in 3-D.

    ``stages``: list of (N, 3) float32 arrays (input, hidden layer 1, ...); ``names``;
    ``methods`` (identity/padded/pca per stage); ``labels`` (N,) int; ``plane``:
    ``(normal (3,), offset)`` of the final separating plane in the last stage's coordinates;
    ``logits`` (N,).
    """

    stages: list[np.ndarray]
    names: list[str]
    methods: list[str]
    labels: np.ndarray
    plane: tuple[np.ndarray, float]
    logits: np.ndarray


def embed_layers(params, X, y) -> LayerEmbedding:
    """Embed the input and each hidden layer's activations of a trained model in 3-D."""
    p = _as_params(params)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(np.int64)
    if X.ndim != 2 or X.shape[1] != p.config.in_dim or len(X) != len(y):
        raise ValueError(f"X must be (n, {p.config.in_dim}) with y (n,), got {X.shape} and {y.shape}")
    acts, logits = hidden_activations(p, X)
    w, b = p.layers()[-1]
    w = w.detach().double().numpy()[0]
    # the last stage is what the output layer reads: its embedding keeps the readout direction
    maps = [fit_embedding(a) for a in acts[:-1]] + [fit_embedding(acts[-1], readout=w)]
    stages = [m(a) for m, a in zip(maps, acts)]
    normal, offset = maps[-1].pull_back_plane(w, float(b[0]))
    names = ["input"] + [f"layer {i}" for i in range(1, len(acts))]
    return LayerEmbedding(stages, names, [m.method for m in maps], y, (normal, offset), logits)


@dataclass
class InterpolationFrames:
    """Frames of the interpolation animation.

    ``frames`` (T, N, 3) float32; ``stage_frames[s]``: frame index showing stage s exactly;
    ``rotation_start``: index of the first rotation frame (T if none); ``planes``: per frame
    ``(normal, offset)`` or None (the plane belongs to the final stage only); ``labels``
    (N,); ``stage_names``; ``point_index``: which of the original points were kept.
    """

    frames: np.ndarray
    stage_frames: list[int]
    rotation_start: int
    planes: list[tuple[np.ndarray, float] | None]
    labels: np.ndarray
    stage_names: list[str]
    point_index: np.ndarray


def _rotation_z(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def interpolation_frames(emb: LayerEmbedding, frames_per_step: int = 12, rotation_frames: int = 0,
                         max_points: int | None = None, seed: int = 0) -> InterpolationFrames:
    """Linear interpolation input -> act 1 -> ... -> act D, then optional rotation frames.

    ``frames_per_step`` in [1, 120]; ``rotation_frames`` in [0, 360]; ``max_points`` keeps a
    class-stratified random subset (deterministic for ``seed``) to bound the payload.
    """
    if isinstance(frames_per_step, bool) or not isinstance(frames_per_step, (int, np.integer)) or not 1 <= frames_per_step <= 120:
        raise ValueError(f"frames_per_step must be an integer in [1, 120], got {frames_per_step!r}")
    if isinstance(rotation_frames, bool) or not isinstance(rotation_frames, (int, np.integer)) or not 0 <= rotation_frames <= 360:
        raise ValueError(f"rotation_frames must be an integer in [0, 360], got {rotation_frames!r}")
    n = len(emb.labels)
    index = np.arange(n)
    if max_points is not None:
        if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 2:
            raise ValueError(f"max_points must be an integer >= 2, got {max_points!r}")
        if n > max_points:
            index = subsample(emb.labels, max_points, seed)
    stages = [s[index].astype(np.float64) for s in emb.stages]
    F = int(frames_per_step)
    frames, stage_frames = [], []
    for s in range(len(stages) - 1):
        stage_frames.append(len(frames))
        a, b = stages[s], stages[s + 1]
        for k in range(F):
            alpha = k / F
            frames.append(a if k == 0 else (1.0 - alpha) * a + alpha * b)
    stage_frames.append(len(frames))
    frames.append(stages[-1])
    planes: list = [None] * len(frames)
    planes[-1] = emb.plane
    rotation_start = len(frames)
    if rotation_frames:
        final = stages[-1]
        centre = final.mean(axis=0)
        centre[2] = 0.0
        normal, offset = emb.plane
        for r in range(1, int(rotation_frames) + 1):
            R = _rotation_z(2.0 * math.pi * r / rotation_frames)
            frames.append((final - centre) @ R.T + centre)
            # plane n.x + o = 0 in rotated coordinates x' = R(x - c) + c: (R n).x' + o - (R n).c + n.c
            rn = R @ normal
            planes.append((rn, float(offset - rn @ centre + normal @ centre)))
    return InterpolationFrames(
        frames=np.stack(frames).astype(np.float32),
        stage_frames=stage_frames,
        rotation_start=rotation_start,
        planes=planes,
        labels=emb.labels[index],
        stage_names=list(emb.names),
        point_index=index,
    )


def subsample(labels: np.ndarray, max_points: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a class-stratified random subset of at most ``max_points`` points."""
    labels = np.asarray(labels)
    n = len(labels)
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng([seed, 11])
    keep = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        k = max(1, int(round(max_points * len(idx) / n)))
        keep.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(keep))[:max_points]


def plane_patch(normal, offset: float, points: np.ndarray, scale: float = 1.15):
    """Four corners (4, 3) of a square piece of the plane normal . x + offset = 0, centred on
    the projection of the points' centroid and large enough to span them; None when the
    normal is zero."""
    normal = np.asarray(normal, dtype=np.float64)
    nn2 = float(normal @ normal)
    if nn2 < 1e-24:
        return None
    pts = np.asarray(points, dtype=np.float64)
    c = pts.mean(axis=0)
    p0 = c - (normal @ c + offset) / nn2 * normal
    n = normal / math.sqrt(nn2)
    helper = np.eye(3)[np.argmin(np.abs(n))]
    u = np.cross(n, helper)
    u /= np.linalg.norm(u)
    v = np.cross(n, u)
    half = scale * max(float(np.max(np.linalg.norm(pts - c, axis=1))), 1e-3)
    return np.array([p0 + half * (su * u + sv * v) for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
