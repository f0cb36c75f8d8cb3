"""Figure builders of the LayerNorm-sphere page: they build, say the exact numbers, stay
small, and colour consistently."""

from __future__ import annotations

import base64
import re
import time

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from polyviz.figures import sphere as fs
from polyviz import polytopes as pt


def decode(spec):
    """A typed-array spec (or a plain list) back to a NumPy array."""
    if isinstance(spec, dict) and "bdata" in spec:
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]).newbyteorder("<"))
    return np.asarray(spec)


def size_kb(spec) -> float:
    return len(pio.to_json(spec, validate=False)) / 1024


@pytest.fixture(scope="module")
def layers():
    W3, b3 = pt.random_layer(64, 3, seed=1)
    W4, b4 = pt.random_layer(64, 4, seed=2)
    rng = np.random.default_rng(0)
    return dict(W3=W3, b3=b3, W4=W4, b4=b4, w_out=rng.normal(size=64), v=rng.normal(size=4), w=rng.normal(size=4))


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_every_builder_returns_a_valid_figure(layers, activation):
    L = layers
    figures = [
        fs.arcs_3d_figure(L["W3"], L["b3"], activation=activation),
        fs.unrolled_figure(L["W3"], L["b3"], activation=activation),
        fs.sphere_regions_figure(L["W4"], L["b4"], activation=activation),
        fs.scaling_figure(L["W4"], L["b4"], L["v"], 10.0),
        fs.rotation_figure(L["W4"], L["b4"], L["w_out"], L["v"], L["w"], activation=activation),
    ]
    for figure in figures:
        assert isinstance(figure, go.Figure)
        assert figure.layout.title.text
        pio.to_json(figure)  # serialisable after validation


def test_sphere_title_has_the_exact_region_count(layers):
    spec = fs.sphere_regions_spec(layers["W4"], layers["b4"])
    W3, b3 = pt.layernorm_sphere_layer(layers["W4"], layers["b4"])
    count = pt.sphere_region_count(W3, b3)
    assert f"{count:,} regions (exact)" in spec["layout"]["title"]["text"]
    assert spec["layout"]["meta"]["regions"] == count
    # The surface cannot show more codes than there are regions.
    assert spec["layout"]["meta"]["codes_on_mesh"] <= count


def test_sphere_surface_colours_follow_codes():
    W = np.array([[0.0, 0.0, 1.0]])
    spec = fs.sphere_regions_spec(W, np.array([-0.2]), mesh_level=2, crisp=False)
    verts, faces = fs.icosphere(2)
    centroid_z = verts[faces].mean(axis=1)[:, 2]
    values = decode(spec["data"][0]["intensity"])
    inside = values[centroid_z > 0.3]
    outside = values[centroid_z < 0.1]
    assert len(set(inside)) == 1 and len(set(outside)) == 1 and inside[0] != outside[0]
    assert "2 regions (exact)" in spec["layout"]["title"]["text"]


def test_arcs_3d_draws_every_arc_with_its_code_colour():
    W, b = pt.random_layer(6, 3, seed=5)
    spec = fs.arcs_3d_spec(W, b)
    p, q, r = pt.layernorm_circle(3)
    angles, codes = pt.circle_arcs(W, b, p, q, r)
    arcs = spec["data"][3]
    x = decode(arcs["x"])
    values = decode(arcs["line"]["color"])
    assert len(x) == len(values)
    pieces = np.split(np.arange(len(x)), np.flatnonzero(np.isnan(x)))
    assert len(pieces) == len(codes)
    for k, piece in enumerate(pieces):
        piece = piece[~np.isnan(x[piece])]
        expected = fs.code_palette_index(codes[k:k + 1])[0] * fs.SHADES + fs.SHADES - 1
        assert set(values[piece]) == {expected}
    # The circle has radius sqrt(3) and lies in the plane orthogonal to (1, 1, 1).
    pts = np.stack([decode(arcs[a]) for a in "xyz"], axis=1)
    pts = pts[~np.isnan(pts[:, 0])]
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), np.sqrt(3), rtol=1e-5)
    np.testing.assert_allclose(pts.sum(axis=1), 0, atol=1e-4)
    assert len(decode(spec["data"][4]["x"])) == len(angles)


def test_unrolled_marks_exact_crossings(layers):
    spec = fs.unrolled_spec(layers["W3"], layers["b3"])
    p, q, r = pt.layernorm_circle(3)
    angles, codes = pt.circle_arcs(layers["W3"], layers["b3"], p, q, r)
    np.testing.assert_allclose(decode(spec["data"][1]["x"]), angles, rtol=1e-6)
    assert f"{len(angles)} crossings" in spec["layout"]["title"]["text"]
    assert len(spec["data"]) == 3 + layers["W3"].shape[0]
    bars = spec["data"][0]
    assert np.isclose(decode(bars["width"]).sum(), 2 * np.pi, rtol=1e-5)


def test_gelu_lightens_colours_near_boundaries():
    W, b = np.array([[0.0, 0.0, 8.0]]), np.array([0.0])  # boundary: the equator
    relu = fs.sphere_regions_spec(W, b, "relu", mesh_level=3, crisp=False)["data"][0]
    assert np.all(decode(relu["intensity"]) % fs.SHADES == fs.SHADES - 1)  # full colour
    gelu = fs.sphere_regions_spec(W, b, "gelu", mesh_level=3, crisp=False)["data"][0]
    z = decode(gelu["z"]).astype(float)
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in gelu["vertexcolor"]])
    lightness = rgb.mean(axis=1)
    assert lightness[np.abs(z) < 0.05].min() > lightness[np.abs(z) > 0.95].max()  # faint at the equator
    north = fs.PALETTE[fs.code_palette_index(np.array([[True]]))[0]]
    assert gelu["vertexcolor"][int(np.argmax(z))] == north  # certain at the pole: the code's colour


def test_gelu_arc_shades_follow_the_soft_code():
    W, b = pt.random_layer(5, 3, seed=2)
    relu = decode(fs.arcs_3d_spec(W, b, activation="relu")["data"][3]["line"]["color"])
    gelu = decode(fs.arcs_3d_spec(W, b, activation="gelu")["data"][3]["line"]["color"])
    x = decode(fs.arcs_3d_spec(W, b)["data"][3]["x"])
    ok = ~np.isnan(x)
    np.testing.assert_array_equal(gelu[ok] // fs.SHADES, relu[ok] // fs.SHADES)  # same hue per arc
    assert (gelu[ok] % fs.SHADES).min() < fs.SHADES - 1  # and fainter somewhere


def test_palette_is_keyed_by_code_and_one_flip_always_changes_colour():
    rng = np.random.default_rng(0)
    codes = rng.random((500, 40)) < 0.5
    index = fs.code_palette_index(codes)
    assert np.array_equal(index, fs.code_palette_index(codes.copy()))
    for j in range(40):
        flipped = codes.copy()
        flipped[:, j] = ~flipped[:, j]
        assert np.all(fs.code_palette_index(flipped) != index)
    assert fs.code_color(codes[0]) == fs.PALETTE[index[0]]


def test_scaling_and_rotation_titles_report_exact_numbers(layers):
    L = layers
    spec = fs.scaling_spec(L["W4"], L["b4"], L["v"], 10.0)
    plain = pt.scaling_regions(L["W4"], L["b4"], L["v"], 10.0, layernorm=False)
    assert spec["layout"]["meta"] == {"without": plain.regions, "with_layernorm": 1}
    assert decode(spec["data"][0]["y"]).max() == plain.regions
    spec = fs.rotation_spec(L["W4"], L["b4"], L["w_out"], L["v"], L["w"])
    probe = pt.rotation_probe(L["W4"], L["b4"], L["w_out"], L["v"], L["w"])
    assert f"{probe.n_crossings} boundary crossings" in spec["layout"]["title"]["text"]
    assert len(decode(spec["data"][1]["x"])) == probe.n_crossings


def test_payloads_and_build_times_fit_the_page_budget(layers):
    L = layers
    builders = {
        "arcs": lambda: fs.arcs_3d_spec(L["W3"], L["b3"]),
        "unrolled": lambda: fs.unrolled_spec(L["W3"], L["b3"]),
        "sphere": lambda: fs.sphere_regions_spec(L["W4"], L["b4"]),
        "scaling": lambda: fs.scaling_spec(L["W4"], L["b4"], L["v"], 10.0),
        "rotation": lambda: fs.rotation_spec(L["W4"], L["b4"], L["w_out"], L["v"], L["w"]),
    }
    limits_kb = {"arcs": 80, "unrolled": 200, "sphere": 250, "scaling": 20, "rotation": 40}
    for name, build in builders.items():
        build()
        start = time.perf_counter()
        spec = build()
        elapsed = time.perf_counter() - start
        assert size_kb(spec) < limits_kb[name], name
        assert elapsed < 0.5, name  # generous (shared CI cores); typical 0.2-6 ms


def test_icosphere_is_a_closed_unit_mesh():
    verts, faces = fs.icosphere(3)
    assert verts.shape == (642, 3) and faces.shape == (1280, 3)
    np.testing.assert_allclose(np.linalg.norm(verts, axis=1), 1.0, atol=1e-12)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert np.all(counts == 2)  # every edge shared by exactly two triangles
    assert len(verts) - len(counts) + len(faces) == 2  # Euler characteristic of the sphere


def test_builders_reject_wrong_shapes():
    with pytest.raises(ValueError, match="R\\^3"):
        fs.arcs_3d_spec(np.ones((2, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="sphere regions"):
        fs.sphere_regions_spec(np.ones((2, 5)), np.zeros(2))


@pytest.mark.parametrize("n", [0, 1])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_builders_handle_tiny_and_boundary_free_layers(n, activation):
    W3, b3 = np.ones((n, 3)), np.full(n, 10.0)  # no boundary anywhere near the circle/sphere
    W4, b4 = np.ones((n, 4)) * np.array([1.0, -1.0, 0.5, 0.0]), np.full(n, 50.0)
    v, w = np.array([1.0, 0.0, -2.0, 0.5]), np.array([0.0, 1.0, 0.5, -1.0])
    spec = fs.arcs_3d_spec(W3, b3, activation=activation)
    neurons = "1 neuron ·" if n == 1 else "0 neurons ·"
    assert f"1 arc · 1 code · {neurons}" in spec["layout"]["title"]["text"]
    unrolled = fs.unrolled_spec(W3, b3, activation=activation)["layout"]["title"]["text"]
    assert "0 crossings · 1 arc · 1 code ·" in unrolled
    sphere = fs.sphere_regions_spec(W4, b4, activation=activation)["layout"]["title"]["text"]
    assert f"1 region (exact) · 0 circles · {neurons}" in sphere
    for title in (spec["layout"]["title"]["text"], unrolled, sphere):  # singular nouns after a 1
        assert not re.search(r"\b1 (regions|neurons|codes|arcs|circles|crossings)\b", title), title
    assert fs.scaling_spec(W4, b4, v)["layout"]["meta"] == {"without": 1, "with_layernorm": 1}
    spec = fs.rotation_spec(W4, b4, np.ones(n), v, w, activation=activation)
    assert "0 boundary crossings" in spec["layout"]["title"]["text"]
    for build in (lambda: fs.arcs_3d_figure(W3, b3), lambda: fs.sphere_regions_figure(W4, b4)):
        assert isinstance(build(), go.Figure)


def test_page_views_scene_great_circle_and_parallel_rotation():
    W3, b3 = pt.random_layer(9, 3, seed=4)
    W4, b4 = pt.random_layer(9, 4, seed=4)
    for W, b, d in ((W3, b3, 3), (W4, b4, 4)):
        v, w = pt.plane_direction(d, 40, 25), pt.plane_direction(d, 200, -30)
        spec = fs.scene_spec(W, b, v, w, k=2.5)
        assert len(spec["data"]) == fs.SCENE_BASE_TRACES[d] + fs.SCENE_MARKER_TRACES
        assert spec["data"][-2]["text"] == ["v"] and spec["data"][-1]["text"] == ["w"]
        circle = fs.great_circle_spec(W, b, v, w)
        p, q, angle = pt.rotation_plane(v, w)
        assert circle["layout"]["meta"]["crossings"] == len(pt.circle_crossings(W, b, p, q, np.sqrt(d)).angles)
        assert circle["layout"]["meta"]["w_angle"] == pytest.approx(angle)
        # w parallel to v: a full turn through v instead of an error
        rotation = fs.rotation_spec(W, b, pt.random_readout(9, 4), v, 3 * v)
        assert rotation["layout"]["meta"]["parallel"] and rotation["layout"]["meta"]["angle_end"] == pytest.approx(
            2 * np.pi)
        assert fs.great_circle_spec(W, b, v, v)["layout"]["meta"]["w_angle"] is None
    with pytest.raises(ValueError, match="R\\^3 or R\\^4"):
        fs.scene_spec(np.ones((2, 5)), np.zeros(2), np.ones(5), np.ones(5))


def test_scaling_marks_the_current_k(layers):
    L = layers
    spec = fs.scaling_spec(L["W4"], L["b4"], L["v"], 10.0, k=3.0)
    plain = pt.scaling_regions(L["W4"], L["b4"], L["v"], 10.0, layernorm=False)
    meta = spec["layout"]["meta"]
    assert meta["region_without"] == 1 + int(np.sum(plain.breakpoints <= 3.0)) and meta["k"] == 3.0
    assert spec["layout"]["shapes"][0]["x0"] == 3.0


def test_hover_names_each_arc_s_neurons_and_map_norm_and_each_boundary_s_neuron():
    """Checked against the layer itself at the drawn points: the neurons on where
    W x + b > 0, the norm as the largest singular value of those rows, a boundary where one
    neuron's pre-activation is 0."""
    W, b = pt.random_layer(7, 3, seed=4)
    spec = fs.arcs_3d_spec(W, b)
    arcs = next(t for t in spec["data"] if t["name"] == "arcs (by spline code)")
    xyz = np.stack([decode(arcs[axis]).astype(float) for axis in "xyz"], 1)
    checked = 0
    for point, text in zip(xyz, arcs["hovertext"]):
        if not text:
            assert np.isnan(point).all()  # the separators between arcs
            continue
        z = W @ point + b
        if np.abs(z).min() < 1e-3:  # an arc's end sits on its boundary
            continue
        on = np.flatnonzero(z > 0)
        listed = re.search(r"on ([0-9,]+|none)<br>‖map‖ ([0-9.e+-]+)", text)
        assert listed.group(1) == (",".join(map(str, on)) or "none"), text
        largest = np.linalg.svd(W[on], compute_uv=False)[0] if len(on) else 0.0
        assert float(listed.group(2)) == pytest.approx(largest, rel=5e-3)  # 3 significant digits
        checked += 1
    assert checked > 100
    crossings = next(t for t in spec["data"] if t["name"] == "boundaries")
    points = np.stack([decode(crossings[axis]) for axis in "xyz"], 1)
    for point, text in zip(points, crossings["hovertext"]):
        named = [int(j) for j in re.findall(r"neuron (\d+) turns", text)]
        assert named and all(abs(W[j] @ point + b[j]) < 1e-4 for j in named), text


def test_hover_on_sphere_patches_gives_region_neurons_on_and_map_norm():
    W, b = pt.random_layer(6, 4, seed=5)
    spec = fs.sphere_regions_spec(W, b)
    mesh = spec["data"][0]
    assert "neurons on" in mesh["hovertemplate"] and "‖map‖" in mesh["hovertemplate"]
    W3, b3, _ = fs._sphere_layer(W, b)
    verts = np.stack([decode(mesh[axis]) for axis in "xyz"], 1)
    rows = np.asarray(mesh["customdata"])
    regions = {}
    for vertex, (region, count, norm) in zip(verts, rows):
        z = W3 @ vertex + b3
        if np.abs(z).min() < 1e-2:  # on (or next to) a boundary circle: either side is right
            continue
        on = z > 0
        assert count == on.sum()
        assert norm == pytest.approx(np.linalg.svd(W3[on], compute_uv=False)[0] if on.any() else 0.0, abs=1e-3)
        regions.setdefault(int(region), set()).add(tuple(on))
    assert all(len(codes) == 1 for codes in regions.values())  # one region index, one code
    assert len(regions) > 3
