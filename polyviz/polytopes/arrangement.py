"""The boundary circles of a layer on the unit sphere S2 (W: (n, 3)) and their
arrangement: the planar graph of circles and vertices, its exact face count by Euler's
formula (:func:`sphere_region_count`), and its faces traced exactly for point location
(:func:`sphere_regions`, :func:`sphere_region_labels`).

For a layer on R^4 behind LayerNorm, take :func:`polyviz.polytopes.layernorm_sphere_layer`
first. All merging thresholds are in :mod:`polyviz.polytopes.tolerances`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from .layer import TAU, as_layer, spline_codes
from .tolerances import (
    DISC_TOL,
    EXIT_MAX,
    LOCATE_TOL,
    MAX_POINT_ERR,
    NEAR_PARALLEL_SIN2,
    ON_VERTEX_TOL,
    PARALLEL_TOL,
    POINT_ERR,
    POINT_TOL,
    SAME_OFFSET_TOL,
    SEP_TOL,
    SPHERE_TANGENT_TOL,
    ZONE_SIN,
)


@dataclass(frozen=True)
class BoundaryCircles:
    """The boundary circles of a layer on the unit sphere S2, one per neuron whose plane
    ``w.x + b = 0`` meets the sphere (planes that miss it, touch it at one point, or have
    w = 0 are left out).

    ``neuron`` (k,) the neuron index; ``normal`` (k, 3) the unit normal u = w / |w|;
    ``offset`` (k,) h = -b / |w| (the plane is u.x = h); ``center`` (k, 3) = h u;
    ``radius`` (k,) = sqrt(1 - h^2); ``basis`` (k, 2, 3) an orthonormal in-plane basis
    (e1, e2) with e1 x e2 = u; ``circle_id`` (k,) equal for neurons that share one circle
    (identical planes, or the same plane with the opposite orientation). ``dropped``: planes
    that do cut S2, in a circle of radius below SPHERE_TANGENT_RADIUS (~1.4e-6), left out as
    touching (SPHERE_TANGENT_TOL): each hides a real region, so a count with dropped > 0 is
    not exact."""

    neuron: np.ndarray
    normal: np.ndarray
    offset: np.ndarray
    center: np.ndarray
    radius: np.ndarray
    basis: np.ndarray
    circle_id: np.ndarray
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.neuron)

    @property
    def n_distinct(self) -> int:
        return int(len(np.unique(self.circle_id)))

    def points(self, n_points: int = 97) -> np.ndarray:
        """(k, n_points, 3) points along each circle (first == last, for drawing)."""
        a = np.linspace(0.0, TAU, n_points)
        e1, e2 = self.basis[:, None, 0, :], self.basis[:, None, 1, :]
        ring = np.cos(a)[None, :, None] * e1 + np.sin(a)[None, :, None] * e2
        return self.center[:, None, :] + self.radius[:, None, None] * ring


def _plane_basis(normals: np.ndarray) -> np.ndarray:
    """An orthonormal basis (k, 2, 3) of the planes orthogonal to unit normals (k, 3)."""
    k = len(normals)
    helper = np.zeros((k, 3))
    helper[np.arange(k), np.argmin(np.abs(normals), axis=1)] = 1.0
    e1 = np.cross(normals, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(normals, e1)
    return np.stack([e1, e2], axis=1)


def boundary_circles(W, b) -> BoundaryCircles:
    """The circles in which the planes ``W x + b = 0`` (W: (n, 3)) cut the unit sphere.
    See :class:`BoundaryCircles`."""
    W, b = as_layer(W, b)
    if W.shape[1] != 3:
        raise ValueError(f"boundary_circles needs W of shape (n, 3), got {W.shape}")
    norms = np.linalg.norm(W, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(norms > 0, -b / np.where(norms > 0, norms, 1.0), np.inf)
    meets = (norms > 0) & (np.abs(h) < 1.0 - SPHERE_TANGENT_TOL)
    dropped = int(((norms > 0) & ~meets & (np.abs(h) < 1.0)).sum())  # tiny circles the tolerance drops
    neuron = np.flatnonzero(meets)
    u = W[neuron] / norms[neuron, None]
    h = h[neuron]
    circle_id = np.arange(len(neuron))
    if len(neuron) > 1:
        # Same circle: parallel normals (either orientation) and the same signed offset.
        cross = np.cross(u[:, None, :], u[None, :, :])
        sin2 = np.einsum("ijk,ijk->ij", cross, cross)
        sign = np.where(u @ u.T >= 0.0, 1.0, -1.0)
        same = (sin2 <= PARALLEL_TOL) & (np.abs(h[:, None] - sign * h[None, :]) <= SAME_OFFSET_TOL)
        circle_id = np.argmax(same, axis=1)  # first index of each one's class
        circle_id = circle_id[circle_id]  # (transitivity for chains within tolerance)
    radius = np.sqrt(np.maximum(0.0, 1.0 - h * h))
    return BoundaryCircles(neuron=neuron, normal=u, offset=h, center=h[:, None] * u, radius=radius,
                           basis=_plane_basis(u) if len(u) else np.zeros((0, 2, 3)), circle_id=circle_id,
                           dropped=dropped)


@dataclass(frozen=True)
class CircleArrangement:
    """The arrangement of distinct boundary circles on S2 as a planar graph.

    ``circles`` the BoundaryCircles; ``distinct`` indices (into circles) of one
    representative per distinct circle; ``vertices`` (V, 3) the distinct intersection
    points; ``incidence`` (I, 2) unique (distinct-circle position, vertex) pairs;
    ``n_loops`` circles that meet no other; ``n_components`` connected components of the
    union of the circles; ``n_regions`` faces by Euler's formula; ``vertex_radius`` (V,)
    how far the intersection points merged into each vertex lie from it (with their
    rounding errors)."""

    circles: BoundaryCircles
    distinct: np.ndarray
    vertices: np.ndarray
    incidence: np.ndarray
    n_loops: int
    n_components: int
    n_regions: int
    vertex_radius: np.ndarray = field(default=None, repr=False, compare=False)


def _pair_intersections(u: np.ndarray, h: np.ndarray):
    """Intersection points of every pair of distinct circles u_i.x = h_i on S2.

    Returns (points (K, 3), pair_i (K,), pair_j (K,), sin_angle (K,), lens (K,)). A pair
    gives 2 points when the circles cross, 1 when they touch (|discriminant| <= DISC_TOL),
    none when they are disjoint or on parallel planes. ``sin_angle`` is the sine of the
    angle at which the pair crosses (0 where it touches); ``lens`` is, for a touch, half
    the distance between the two points where the circles may in fact cross (the square
    root of a positive discriminant within DISC_TOL), else 0."""
    m = len(u)
    if m < 2:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 3)), empty, empty, np.zeros(0), np.zeros(0)
    i, j = np.triu_indices(m, k=1)
    ui, uj, hi, hj = u[i], u[j], h[i], h[j]
    d = np.cross(ui, uj)
    s2 = np.einsum("ij,ij->i", d, d)
    ok = s2 > PARALLEL_TOL
    i, j, ui, uj, hi, hj, d, s2 = i[ok], j[ok], ui[ok], uj[ok], hi[ok], hj[ok], d[ok], s2[ok]
    # The point of the planes' common line nearest the origin (x0.u_i = h_i, x0.u_j = h_j,
    # x0.d = 0), then x = x0 +/- t d with |x| = 1.
    x0 = (hi[:, None] * np.cross(uj, d) + hj[:, None] * np.cross(d, ui)) / s2[:, None]
    x0_sq = np.einsum("ij,ij->i", x0, x0)
    disc = 1.0 - x0_sq
    touch = np.abs(disc) <= DISC_TOL * np.maximum(1.0, x0_sq)
    cross = (disc > 0) & ~touch
    t = np.sqrt(np.where(cross, disc, 0.0) / s2)
    # The circles' tangents at x meet at angle a with sin a = |x.d| / (rho_i rho_j) = t s2 / (rho_i rho_j).
    rho = np.sqrt(np.maximum(1e-300, (1.0 - hi * hi) * (1.0 - hj * hj)))
    sin_angle = np.minimum(1.0, t * s2 / rho)[cross]
    pts = [x0[touch], x0[cross] + t[cross, None] * d[cross], x0[cross] - t[cross, None] * d[cross]]
    pi = [i[touch], i[cross], i[cross]]
    pj = [j[touch], j[cross], j[cross]]
    points = np.concatenate(pts)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    pi, pj = np.concatenate(pi), np.concatenate(pj)
    # Nearly parallel planes (e.g. small circles nearly alike) leave the crossings up to
    # ~1e-10 off them (x0 loses digits as 1 / s2): one Newton step on (u_i.x = h_i,
    # u_j.x = h_j, |x| = 1) puts them back. (Not at touching points: singular there.)
    n_touch = int(touch.sum())
    near_parallel = np.flatnonzero(s2[cross] < NEAR_PARALLEL_SIN2)
    fix = n_touch + np.concatenate([near_parallel, near_parallel + int(cross.sum())])
    if len(fix):
        x, ui, uj = points[fix], u[pi[fix]], u[pj[fix]]
        res = np.stack([np.einsum("ij,ij->i", x, ui) - h[pi[fix]], np.einsum("ij,ij->i", x, uj) - h[pj[fix]],
                        0.5 * (np.einsum("ij,ij->i", x, x) - 1.0)], axis=1)
        J = np.stack([ui, uj, x], axis=1)
        ok = np.abs(np.linalg.det(J)) > 1e-200
        points[fix[ok]] -= np.linalg.solve(J[ok], res[ok][:, :, None])[:, :, 0]
    sin_angle = np.concatenate([np.zeros(n_touch), sin_angle, sin_angle])
    lens = np.concatenate([np.sqrt(np.maximum(disc[touch], 0.0)), np.zeros(2 * int(cross.sum()))])
    return points, pi, pj, sin_angle, lens


def _components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of an undirected graph given as edge lists (a, b)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_nodes, n_nodes))
    return connected_components(graph, directed=False)


def _circle_order(u, h, bases, vertices, incidence):
    """The incidences sorted by circle, then by the angle of the vertex on the circle.

    Returns (circle, vertex, theta, counts, nxt): the sorted incidences, the vertex angles
    in [0, 2 pi) about each circle's normal, the number of vertices on each circle, and
    for each incidence the position of the next one counter-clockwise on its circle (an
    edge runs from vertex[e] to vertex[nxt[e]])."""
    circle, vertex = incidence[:, 0], incidence[:, 1]
    rel = vertices[vertex] - h[circle, None] * u[circle]
    theta = np.mod(np.arctan2(np.einsum("ij,ij->i", rel, bases[circle, 1]),
                              np.einsum("ij,ij->i", rel, bases[circle, 0])), TAU)
    order = np.lexsort((theta, circle))
    circle, vertex, theta = circle[order], vertex[order], theta[order]
    counts = np.bincount(circle, minlength=len(u))
    circle_start = np.concatenate([[0], np.cumsum(counts)])
    pos = np.arange(len(circle)) - circle_start[circle]
    nxt = circle_start[circle] + np.mod(pos + 1, counts[circle])
    return circle, vertex, theta, counts, nxt


def _vertex_graph(u: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (V, 3) of the circles u_k.x = h_k on S2, the unique (circle, vertex)
    incidences (I, 2) and the radius of each vertex's cluster (V,). The region count and
    the face tracing use this one graph (the tracing adds auxiliary circles on top, see
    :func:`_add_auxiliary`).

    A vertex is a cluster of pairwise intersection points, joined (single linkage) when

    * two points are closer than POINT_TOL, or than the sum of their errors (a crossing
      at angle a is computed to within ~1e-15 / sin a: POINT_ERR / sin a);
    * a point lies on one of two circles that touch or cross at a small angle (sine below
      ZONE_SIN) and within SEP_TOL of the other one (plane distance), or, for a touch,
      within 4 lens half-widths of the touching point: there the two circles cannot be
      told apart in float64, so the point joins their nearest common point (a circle
      crossing a tangent pair 1e-8 from the tangency meets both within 1e-16);
    * (not a join) a circle running between the points of a cluster, or through the error
      segment of one, goes through the vertex as well: pinched, or the contracted cluster
      would not be a point of a planar picture;
    * two clusters on one circle are closer than 3 times the sum of their radii (how far
      their points, with their errors, lie from the vertex, and at least the lens
      half-width of a touch), so that clusters stay well apart (see
      :func:`_rotation_system`): at a crossing at a small angle a the two circles are
      within noise of each other for ~POINT_ERR / sin a along, and only beyond that does
      the order in which they leave tell a crossing.

    A cluster with a touching point sits at it, others at their mean.
    """
    points, pi, pj, sin_angle, lens = _pair_intersections(u, h)
    if not len(points):
        return np.zeros((0, 3)), np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    from scipy.spatial import cKDTree

    m, K = len(u), len(points)
    touch = np.flatnonzero(sin_angle == 0.0)
    tree = cKDTree(points)
    close = tree.query_pairs(POINT_TOL, output_type="ndarray")
    link_a, link_b = [close[:, 0]], [close[:, 1]]
    # A crossing at angle a is only known to within POINT_ERR / sin a (capped: beyond that
    # the two circles are the same circle for all purposes here).
    err = np.where(sin_angle > 0.0, np.minimum(POINT_ERR / np.maximum(sin_angle, 1e-300), MAX_POINT_ERR), 0.0)
    for p in np.flatnonzero(err > 0.5 * POINT_TOL):
        q = np.asarray(tree.query_ball_point(points[p], 2.0 * err[p]), dtype=np.int64)
        q = q[np.linalg.norm(points[q] - points[p], axis=1) <= err[p] + err[q]]
        link_a.append(np.full(len(q), p))
        link_b.append(q)
    pair_key = pi * m + pj
    for key in np.unique(pair_key[sin_angle <= ZONE_SIN]):
        i, j = divmod(int(key), m)
        own = np.flatnonzero(pair_key == key)
        on_i, on_j = (pi == i) | (pj == i), (pi == j) | (pj == j)
        cand = np.flatnonzero(on_i ^ on_j)  # points on exactly one of the two circles
        partner = np.where(on_i[cand], j, i)
        gap = np.abs(np.einsum("ij,ij->i", points[cand], u[partner]) - h[partner])
        dist = np.linalg.norm(points[cand, None, :] - points[None, own, :], axis=2)
        zone = (gap <= SEP_TOL) | (dist.min(axis=1) <= 4.0 * lens[own].max())
        link_a.append(cand[zone])
        link_b.append(own[np.argmin(dist[zone], axis=1)])
    link_a, link_b = np.concatenate(link_a), np.concatenate(link_b)
    bases = None
    pinch_circle, pinch_point = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    while True:
        n_vertices, vertex_of_point = _components(K, link_a, link_b)
        vertices = np.zeros((n_vertices, 3))
        np.add.at(vertices, vertex_of_point, points)
        vertices /= np.linalg.norm(vertices, axis=1, keepdims=True)
        # A cluster with a touching point sits at it: the touching circles pass through it
        # exactly, and only there does the order in which they leave stay exact.
        vertices[vertex_of_point[touch]] = points[touch]
        keys = np.unique(np.concatenate([pi * n_vertices + vertex_of_point, pj * n_vertices + vertex_of_point,
                                         pinch_circle * n_vertices + vertex_of_point[pinch_point]]))
        incidence = np.stack([keys // n_vertices, keys % n_vertices], axis=1)
        radius = np.zeros(n_vertices)
        if n_vertices == K:  # every cluster a single point (the usual case)
            radius[vertex_of_point] = np.maximum(err, lens)
        else:
            np.maximum.at(radius, vertex_of_point,
                          np.maximum(np.linalg.norm(points - vertices[vertex_of_point], axis=1) + err, lens))
        first = np.empty(n_vertices, dtype=np.int64)  # one point of each cluster
        first[vertex_of_point[::-1]] = np.arange(K)[::-1]
        # A circle that runs between the points of a cluster (or through the error segment
        # of one: a crossing is uncertain along its circles) without meeting them there
        # goes through the vertex too (pinched), or the cluster would not be a point of a
        # planar picture.
        wide = np.flatnonzero(radius[vertex_of_point] > 1e-13)
        if len(wide):
            wide = wide[np.argsort(vertex_of_point[wide], kind="stable")]
            cluster = vertex_of_point[wide]
            starts = np.flatnonzero(np.concatenate([[True], cluster[1:] != cluster[:-1]]))
            along = np.cross(u[pi[wide]], points[wide])  # the (nearly common) tangent there
            along /= np.linalg.norm(along, axis=1, keepdims=True)
            side = points[wide] @ u.T - h  # (points, circles)
            slack = np.maximum(err, lens)[wide, None] * np.abs(along @ u.T)
            low = np.minimum.reduceat(side - slack, starts, axis=0)
            high = np.maximum.reduceat(side + slack, starts, axis=0)
            by_v, by_c = np.nonzero((low < 0.0) & (high > 0.0))
            by_v = cluster[starts[by_v]]
            key = by_c * n_vertices + by_v  # keys is sorted: is (circle, vertex) there already?
            new = keys[np.minimum(np.searchsorted(keys, key), len(keys) - 1)] != key
            if new.any():
                pinch_circle = np.concatenate([pinch_circle, by_c[new]])
                pinch_point = np.concatenate([pinch_point, first[by_v[new]]])
                continue
        if radius.max() <= POINT_TOL / 16:  # then distinct clusters are > 3 radii sums apart already
            return vertices, incidence, radius
        if bases is None:
            bases = _plane_basis(u)
        circle, vertex, _, _, nxt = _circle_order(u, h, bases, vertices, incidence)
        v, w = vertex, vertex[nxt]
        short = (v != w) & (np.linalg.norm(vertices[v] - vertices[w], axis=1)
                            < 3.0 * (radius[v] + radius[w]))
        if not short.any():
            return vertices, incidence, radius
        link_a = np.concatenate([link_a, first[v[short]]])
        link_b = np.concatenate([link_b, first[w[short]]])


def _add_auxiliary(u, h, n_real, vertices, incidence, radius):
    """The vertex graph of circles 0..n_real-1 (vertices, incidence, radius from
    :func:`_vertex_graph`) with the auxiliary circles n_real.. of the face tracing added,
    without changing it: an auxiliary crossing joins an existing vertex only if its real
    circle already passes through it (within max(POINT_TOL, 3 radius)), and auxiliary
    crossings on different real circles are never merged with each other (where two real
    circles run within POINT_TOL of each other, an auxiliary circle crossing both must not
    make them meet). Returns (vertices, incidence) of the combined graph."""
    from scipy.spatial import cKDTree

    points, pi, pj, _, _ = _pair_intersections(u, h)
    aux = pj >= n_real  # pi < pj: the pair involves an auxiliary circle
    points, pi, pj = points[aux], pi[aux], pj[aux]
    if not len(points):
        return vertices, incidence
    real = np.where(pi < n_real, pi, -1)  # the real circle of each crossing, -1 for two auxiliary ones
    close = cKDTree(points).query_pairs(POINT_TOL, output_type="ndarray")
    close = close[real[close[:, 0]] == real[close[:, 1]]]
    n_new, cluster = _components(len(points), close[:, 0], close[:, 1])
    node = len(vertices) + cluster
    if len(vertices):
        V0 = len(vertices)
        on = np.sort(incidence[:, 0] * V0 + incidence[:, 1])  # (circle, vertex) keys
        reach = np.maximum(POINT_TOL, 3.0 * radius)
        dist, near = cKDTree(vertices).query(points, k=min(4, V0))
        dist, near = dist.reshape(len(points), -1), near.reshape(len(points), -1)
        key = np.maximum(real, 0)[:, None] * V0 + near
        pos = np.minimum(np.searchsorted(on, key), len(on) - 1)
        ok = (real[:, None] >= 0) & (dist <= reach[near]) & (on[pos] == key)
        hit = ok.any(axis=1)
        joined = near[hit, np.argmax(ok[hit], axis=1)]  # the nearest such vertex (query sorts by distance)
        target = np.full(n_new, -1)
        target[cluster[hit]] = joined
        node = np.where(target[cluster] >= 0, target[cluster], node)
    used, node = np.unique(node, return_inverse=True)
    # renumber: real vertices keep their numbers, new clusters follow
    n_old = len(vertices)
    new = used >= n_old
    sums = np.zeros((int(new.sum()), 3))
    index = np.where(new, np.cumsum(new) - 1 + n_old, used)
    node = index[node]
    np.add.at(sums, node[node >= n_old] - n_old, points[node >= n_old])
    sums /= np.linalg.norm(sums, axis=1, keepdims=True)
    all_vertices = np.vstack([vertices, sums])
    V = len(all_vertices)
    keys = np.unique(np.concatenate([incidence[:, 0] * V + incidence[:, 1], pi * V + node, pj * V + node]))
    return all_vertices, np.stack([keys // V, keys % V], axis=1)


def circle_arrangement(W, b) -> CircleArrangement:
    """Build the planar graph of the boundary circles of ``W x + b`` (W: (n, 3)) on S2.
    See :func:`sphere_region_count` for the method."""
    circles = boundary_circles(W, b)
    distinct = np.flatnonzero(circles.circle_id == np.arange(len(circles)))
    u, h = circles.normal[distinct], circles.offset[distinct]
    m = len(distinct)
    vertices, incidence, radius = _vertex_graph(u, h)
    n_vertices = len(vertices)
    touched = np.zeros(m, dtype=bool)
    touched[incidence[:, 0]] = True
    n_loops = int(m - touched.sum())
    # Components of the union of circles: circles and vertices as nodes, incidences as edges.
    n_components, _ = _components(m + n_vertices, incidence[:, 0], m + incidence[:, 1])
    V = n_vertices + n_loops  # each lone circle: one dummy vertex ...
    E = len(incidence) + n_loops  # ... and one edge from it to itself
    n_regions = 1 + n_components - V + E if m else 1
    return CircleArrangement(circles, distinct, vertices, incidence, n_loops,
                             int(n_components) if m else 0, int(n_regions), radius)


def sphere_region_count(W, b) -> int:
    """Exact number of connected regions into which the planes ``W x + b = 0`` (W: (n, 3))
    cut the unit sphere S2.

    Method (no sampling): each neuron whose plane meets the sphere gives a circle (planes
    that miss it or touch it at a single point, and zero rows of W, cut nothing; identical
    planes, including the same plane with opposite orientation, give one circle). The
    union of the circles is a planar graph on the sphere: vertices are the pairwise
    intersection points, computed in closed form for all pairs at once and merged when
    closer than POINT_TOL or than their rounding error, or where two touching circles
    cannot be told apart (so three or more circles through one point give one vertex, and
    a tangency gives one; see :func:`_vertex_graph`); the edges are the arcs between
    consecutive vertices on each circle, so a circle through k distinct vertices adds k
    edges; a circle that meets no other is a loop (one dummy vertex, one edge). With C
    the number of connected components of the union of circles (found from the
    circle-vertex incidences), Euler's formula for a planar graph gives the number of
    faces ``F = 1 + C - V + E``. Nested, disjoint and parallel circles need no special
    case: they are separate components.
    Examples: no circle 1, one circle 2, n great circles in general position n(n-1)+2.
    Tolerances that can merge real features (tolerances.py): a plane within
    SPHERE_TANGENT_TOL of touching S2 gives no circle (``boundary_circles(W, b).dropped``
    counts those: the region inside each is missing from the count), and intersection
    points closer than POINT_TOL are one vertex.
    """
    W, b = as_layer(W, b)
    return circle_arrangement(W, b).n_regions


# Poles for the auxiliary great circles that join separate components (any generic
# directions do; two in case a circle's axis is parallel to the first).
_POLES = (np.array([0.28630, 0.51240, 0.80930]), np.array([-0.71080, 0.16020, 0.68490]))


def _rotation_system(u, h, bases, vertices, radius, circle, vertex, theta, counts, nxt) -> np.ndarray:
    """The half-edges (2E,) grouped by origin vertex and, within each vertex, sorted
    counter-clockwise seen from outside the sphere (half-edge 2e runs forward, i.e.
    counter-clockwise about its circle's normal, from vertex[e]; 2e + 1 runs back from
    vertex[nxt[e]]).

    A vertex is a cluster of intersection points (see :func:`_vertex_graph`), so its
    circles need not pass through one point: a circle crossing two circles that touch
    close by meets them ~1e-10 apart, and the touching circles, which never cross, leave
    the merged vertex in directions ~1e-5 apart in the order of a crossing. Tangent
    directions at the vertex are not the order of the merged graph; the order in which the
    half-edges cross a small circle around the vertex is (it is what remains when the
    cluster is shrunk to a point) and needs no tie rule for tangent circles (they separate
    at second order). The small circle has chord radius C: halfway across the gap between
    the vertex's cluster (its radius r) and the nearest neighbouring cluster along its
    circles (so each half-edge crosses it once, outside the cluster and before its next
    vertex, and no two meet inside it but in the cluster), but no more than
    max(EXIT_MAX, 2 r); _vertex_graph keeps clusters 3 radius sums apart, so C >= 2 r.

    Each crossing is found in closed form along the half-edge's own circle from its point
    P nearest the vertex v: with o = P - v (orthogonal to the circle there), a = o . r
    (r the circle's radial unit vector at P) and rho its radius, the point at angle phi
    from P is at |o|^2 + 4 rho (rho - a) sin^2(phi / 2) = C^2 from v. The offset from v is
    built without cancellation, so circles through v itself (|o| <= ON_VERTEX_TOL) are
    ordered exactly even when C is tiny: tangent circles by their curvature."""
    E = len(theta)
    rho = np.sqrt(np.maximum(0.0, 1.0 - h * h))
    v, w = vertex, vertex[nxt]
    chord = np.where(counts[circle] > 1, np.linalg.norm(vertices[v] - vertices[w], axis=1), 2.0 * rho[circle])
    gap = chord - radius[v] - np.where(counts[circle] > 1, radius[w], radius[v])  # between the clusters
    reach = np.full(len(vertices), np.inf)
    np.minimum.at(reach, v, gap)
    np.minimum.at(reach, w, gap)
    hc = np.repeat(circle, 2)
    origin = np.empty(2 * E, dtype=np.int64)
    origin[0::2], origin[1::2] = v, w
    start = np.empty(2 * E)
    start[0::2], start[1::2] = theta, theta[nxt]  # the origin's angle on the circle
    forward = np.ones(2 * E)
    forward[1::2] = -1.0
    e1, e2 = bases[hc, 0], bases[hc, 1]
    c, s = np.cos(start)[:, None], np.sin(start)[:, None]
    radial = c * e1 + s * e2
    along = c * e2 - s * e1  # u x radial: counter-clockwise about u
    r = rho[hc]
    offset = h[hc, None] * u[hc] + r[:, None] * radial - vertices[origin]
    o2 = np.einsum("ij,ij->i", offset, offset)
    exact = o2 <= ON_VERTEX_TOL ** 2
    offset[exact], o2[exact] = 0.0, 0.0
    a = np.einsum("ij,ij->i", offset, radial)
    C = np.minimum(radius + 0.5 * reach, np.maximum(EXIT_MAX, 2.0 * radius))[origin]
    half = np.sqrt(np.clip((C * C - o2) / np.maximum(4.0 * r * (r - a), 1e-300), 0.0, 1.0))  # sin(phi / 2)
    step = offset + r[:, None] * ((-2.0 * half * half)[:, None] * radial
                                  + (forward * 2.0 * half * np.sqrt(1.0 - half * half))[:, None] * along)
    frame = _plane_basis(vertices)[origin]  # (f1, f2), f1 x f2 = vertex: counter-clockwise seen from outside
    azimuth = np.arctan2(np.einsum("ij,ij->i", step, frame[:, 1]), np.einsum("ij,ij->i", step, frame[:, 0]))
    return np.lexsort((azimuth, origin))


@dataclass(frozen=True)
class SphereRegions:
    """The faces of the arrangement of boundary circles on S2, traced exactly, with point
    location: :meth:`locate` gives every point the id (0..n_regions-1) of the connected
    region that contains it. Build with :func:`sphere_regions`."""

    n_regions: int
    euler_count: int
    normals: np.ndarray = field(repr=False)  # (m, 3) circles used for tracing (incl. auxiliary)
    offsets: np.ndarray = field(repr=False)
    bases: np.ndarray = field(repr=False)  # (m, 2, 3)
    circle_start: np.ndarray = field(repr=False)  # (m + 1,) offsets into the per-circle vertex lists
    vertex_angle: np.ndarray = field(repr=False)  # sorted vertex angles on each circle, concatenated
    half_edge_face: np.ndarray = field(repr=False)  # (2E,) region of the face left of each half-edge
    vertices: np.ndarray = field(default=None, repr=False)  # (V, 3) the vertices of the traced graph
    vertex_fuzz: np.ndarray = field(default=None, repr=False)  # like vertex_angle: how far from the vertex
    # its merged intersection points lie (the graph is only a picture of the circles beyond that)

    def locate(self, points) -> np.ndarray:
        """Region id of each point (m, 3) on S2 (normalised here). A point on a boundary
        gets a region on one side of it."""
        X = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        labels = np.full(len(X), -1, dtype=np.int64)
        if len(self.normals) == 0 or len(X) == 0:
            labels[:] = 0
            return labels
        todo = np.arange(len(X))
        votes = []
        # Shoot a great-circle ray from each point; the first circle it meets bounds the
        # point's face. Aim at the axis of circle 0, 1, ... (a ray towards a circle's axis
        # meets that circle); retry the few points whose first hit is (nearly) a vertex or
        # another circle, last straight away from the nearest vertex (a point in the cusp
        # of two tangent circles sees them run within float noise of each other near the
        # touching point, in most directions). A point no ray sees clearly (within ~1e-8
        # of a vertex) takes the most common answer.
        for attempt in range(12):
            if not len(todo):
                break
            if attempt < 8:
                target = self.normals[attempt % len(self.normals)] + 0.37 * (attempt // len(self.normals))
            elif attempt < 11 and self.vertices is not None and len(self.vertices):
                from scipy.spatial import cKDTree

                away = X[todo] - self.vertices[cKDTree(self.vertices).query(X[todo])[1]]
                away /= np.maximum(np.linalg.norm(away, axis=1, keepdims=True), 1e-300)
                turn = (attempt - 9) * 0.5  # straight away, then 0.5 rad to either side
                target = X[todo] + math.cos(turn) * away + math.sin(turn) * np.cross(X[todo], away)
            else:
                target = np.array([0.6, -0.3, 0.74])
            got, score = self._shoot(X[todo], target)
            clear = score >= 1.0
            labels[todo[clear]] = got[clear]
            votes.append((todo[~clear], got[~clear]))
            todo = todo[~clear]
        if len(todo):  # pragma: no cover - needs a point within ~1e-8 of a vertex or of two circles
            who = np.concatenate([w for w, _ in votes])
            what = np.concatenate([g for _, g in votes])
            keep = np.isin(who, todo)
            pairs, count = np.unique(np.stack([who[keep], what[keep]], axis=1), axis=0, return_counts=True)
            order = np.lexsort((-count, pairs[:, 0]))  # by point, most votes first
            pairs = pairs[order]
            first = np.concatenate([[True], pairs[1:, 0] != pairs[:-1, 0]])
            labels[pairs[first, 0]] = pairs[first, 1]
        return labels

    def _shoot(self, X, target):
        """Face ids of the points X along rays towards target, and how clear each hit is
        (at least 1: clear of the vertices by LOCATE_TOL and their fuzz, and of the other
        circles by SEP_TOL)."""
        u, h = self.normals, self.offsets
        target = np.broadcast_to(target, X.shape)
        t = target - np.einsum("ij,ij->i", X, target)[:, None] * X
        norm = np.linalg.norm(t, axis=1)
        bad = norm < 1e-6
        t[bad] = np.cross(X[bad], [0.6, -0.3, 0.74])
        t /= np.linalg.norm(t, axis=1, keepdims=True)
        alpha, beta = X @ u.T, t @ u.T  # along the ray y(s) = cos s x + sin s t: alpha cos s + beta sin s = h
        R = np.hypot(alpha, beta)
        phi = np.arctan2(beta, alpha)
        reach = R >= np.abs(h) * (1.0 - 1e-12)
        delta = np.arccos(np.clip(h / np.where(reach, R, 1.0), -1.0, 1.0))
        s = np.stack([np.mod(phi - delta, TAU), np.mod(phi + delta, TAU)])
        s[:, ~reach] = np.inf
        s[s <= 1e-12] = np.inf
        s = s.min(axis=0)
        k = np.argmin(s, axis=1)
        s_hit = s[np.arange(len(X)), k]
        s_fin = np.where(np.isfinite(s_hit), s_hit, 0.0)
        y = np.cos(s_fin)[:, None] * X + np.sin(s_fin)[:, None] * t
        centre = h[k, None] * u[k]
        rel = y - centre
        theta = np.mod(np.arctan2(np.einsum("ij,ij->i", rel, self.bases[k, 1]),
                                  np.einsum("ij,ij->i", rel, self.bases[k, 0])), TAU)
        start, count = self.circle_start[k], np.diff(self.circle_start)[k]
        # edge j of circle k runs from its vertex j to vertex j + 1 (angles sorted); one
        # global search over keys circle * 8 + angle (angles < 2 pi < 8)
        keys = np.repeat(np.arange(len(u)), np.diff(self.circle_start)) * 8.0 + self.vertex_angle
        j = np.searchsorted(keys, k * 8.0 + theta, side="right") - 1 - start
        local = np.mod(j, count)
        after = np.mod(local + 1, count)
        radius = np.sqrt(np.maximum(0.0, 1.0 - h[k] ** 2))
        fuzz = (np.zeros((2, len(X))) if self.vertex_fuzz is None
                else np.stack([self.vertex_fuzz[start + local], self.vertex_fuzz[start + after]]))
        score = np.minimum(
            np.abs((theta - self.vertex_angle[start + local] + np.pi) % TAU - np.pi) * radius
            / np.maximum(LOCATE_TOL, fuzz[0]),
            np.abs((theta - self.vertex_angle[start + after] + np.pi) % TAU - np.pi) * radius
            / np.maximum(LOCATE_TOL, fuzz[1]))
        # The hit decides the face only if it is clear of every other circle (by SEP_TOL)
        # and the ray crossed none of them on the way: near a tangency two circles stay
        # within float noise of each other for ~1e-8 along, so which one the ray meets
        # first there is noise even where no vertex is close.
        rows = np.flatnonzero(np.isfinite(s_hit))
        at_hit = (np.cos(s_hit[rows])[:, None] * alpha[rows] + np.sin(s_hit[rows])[:, None] * beta[rows]) - h
        at_start = alpha[rows] - h
        own = (np.arange(len(rows)), k[rows])
        crossed = (np.abs(at_start) > SEP_TOL) & ((at_hit > 0) != (at_start > 0))
        crossed[own] = False
        crossed = crossed.any(axis=1)
        np.abs(at_hit, out=at_hit)
        at_hit[own] = np.inf
        clearance = at_hit.min(axis=1, initial=np.inf) / SEP_TOL
        score[rows] = np.where(crossed, 0.0, np.minimum(score[rows], clearance))
        score[~np.isfinite(s_hit)] = -1.0
        edge = start + local
        inside = np.einsum("ij,ij->i", X, u[k]) > h[k]  # the cap side is left of the forward half-edge
        half_edge = 2 * edge + np.where(inside, 0, 1)
        half_edge[~np.isfinite(s_hit)] = 0
        return self.half_edge_face[half_edge], score


def sphere_regions(W, b) -> SphereRegions:
    """Trace the faces of the arrangement of boundary circles of ``W x + b`` (W: (n, 3))
    on S2 exactly, for point location (:meth:`SphereRegions.locate`).

    Method: the circles (distinct, as in :func:`sphere_region_count`) and their vertices
    form a planar graph; if it has several components, one auxiliary great circle per
    component through a fixed pole and that component's first circle's axis joins them
    into one (the auxiliary edges are "transparent": the faces on their two sides are
    merged afterwards). Every circle is cut at its vertices (sorted by angle) into edges,
    each edge gives two half-edges (counter-clockwise about the circle's normal, with the
    cap ``u.x > h`` on its left, and back). Around each vertex the outgoing half-edges are
    sorted counter-clockwise by where they cross a small circle around the vertex (see
    :func:`_rotation_system`: this is right for merged vertices, where the circles need
    not pass through one point, and for tangent circles); the next half-edge around a face
    is the one just clockwise of the twin. The cycles of that permutation are the faces.
    The graph is the very one Euler's formula counts (:func:`_vertex_graph`; the auxiliary
    circles are added without merging anything of it), and the number of faces is checked
    against it (``euler_count``); on a mismatch a warning is given."""
    W, b = as_layer(W, b)
    arrangement = circle_arrangement(W, b)
    circles = arrangement.circles
    u = circles.normal[arrangement.distinct]
    h = circles.offset[arrangement.distinct]
    m = len(u)
    transparent = np.zeros(m, dtype=bool)
    if arrangement.n_components > 1:
        _, comp = _components(m + len(arrangement.vertices), arrangement.incidence[:, 0],
                              m + arrangement.incidence[:, 1])
        reps = np.unique(comp[:m], return_index=True)[1]
        pole = _POLES[0] if np.all(np.linalg.norm(np.cross(u[reps], _POLES[0]), axis=1) > 1e-3) else _POLES[1]
        aux = np.cross(pole, u[reps])
        aux /= np.linalg.norm(aux, axis=1, keepdims=True)
        u = np.vstack([u, aux])
        h = np.concatenate([h, np.zeros(len(aux))])
        transparent = np.concatenate([transparent, np.ones(len(aux), dtype=bool)])
        # an auxiliary circle may coincide with another circle: keep the first
        cross = np.cross(u[:, None, :], u[None, :, :])
        sign = np.where(u @ u.T >= 0.0, 1.0, -1.0)
        same = ((np.einsum("ijk,ijk->ij", cross, cross) <= PARALLEL_TOL)
                & (np.abs(h[:, None] - sign * h[None, :]) <= SAME_OFFSET_TOL))
        keep = np.argmax(same, axis=1) == np.arange(len(u))
        u, h, transparent = u[keep], h[keep], transparent[keep]
        m = len(u)
    bases = _plane_basis(u) if m else np.zeros((0, 2, 3))
    if m == 0:
        return SphereRegions(1, arrangement.n_regions, u, h, bases, np.zeros(1, dtype=np.int64), np.zeros(0),
                             np.zeros(0, dtype=np.int64))
    vertices, incidence = arrangement.vertices, arrangement.incidence
    if m > len(arrangement.distinct):
        vertices, incidence = _add_auxiliary(u, h, len(arrangement.distinct), vertices, incidence,
                                             arrangement.vertex_radius)
    if len(incidence) == 0:  # a single circle: add a vertex on it
        vertices = (h[0] * u[0] + math.sqrt(max(0.0, 1 - h[0] ** 2)) * bases[0, 0])[None, :]
        incidence = np.zeros((1, 2), dtype=np.int64)
    vertex_radius = np.zeros(len(vertices))
    vertex_radius[:len(arrangement.vertex_radius)] = arrangement.vertex_radius
    circle, vertex, theta, counts, nxt = _circle_order(u, h, bases, vertices, incidence)
    circle_start = np.concatenate([[0], np.cumsum(counts)])
    # Edge e = incidence position: from vertex[e] to the next vertex on the same circle.
    E = len(circle)
    origin = np.empty(2 * E, dtype=np.int64)
    origin[0::2] = vertex  # forward half-edge 2e leaves vertex[e]
    origin[1::2] = vertex[nxt]  # backward half-edge 2e+1 leaves the next vertex
    hc = np.repeat(circle, 2)
    rotation = _rotation_system(u, h, bases, vertices, vertex_radius, circle, vertex, theta, counts, nxt)
    deg = np.bincount(origin, minlength=len(vertices))
    vstart = np.concatenate([[0], np.cumsum(deg)])
    slot = np.empty(2 * E, dtype=np.int64)
    slot[rotation] = np.arange(2 * E)
    twin = np.arange(2 * E) ^ 1
    dest = origin[twin]
    tw_slot = slot[twin] - vstart[dest]
    next_half = rotation[vstart[dest] + np.mod(tw_slot - 1, deg[dest])]
    n_cycles, cycle = _components(2 * E, np.arange(2 * E), next_half)
    # Merge the faces on the two sides of auxiliary (transparent) edges.
    see_through = np.flatnonzero(transparent[hc])
    n_faces, face_of_cycle = _components(n_cycles, cycle[see_through], cycle[twin[see_through]])
    n_faces = int(n_faces)
    if n_faces != arrangement.n_regions:
        warnings.warn(f"traced {n_faces} faces but Euler's formula gives {arrangement.n_regions}: "
                      "the arrangement is numerically degenerate; region labels may be off", RuntimeWarning,
                      stacklevel=2)
    return SphereRegions(n_regions=n_faces, euler_count=arrangement.n_regions, normals=u, offsets=h, bases=bases,
                         circle_start=circle_start, vertex_angle=theta, half_edge_face=face_of_cycle[cycle],
                         vertices=vertices, vertex_fuzz=2.0 * vertex_radius[vertex])


def sphere_region_labels(W, b, points) -> tuple[np.ndarray, np.ndarray]:
    """Spline codes (m, n) of points on S2 and the id of the connected region each point
    lies in (0 .. sphere_region_count - 1), exactly (see :func:`sphere_regions`).

    Points with the same code can get different ids: a thin polytope that pokes out of
    the sphere on two sides has one code (one affine piece) but two regions. For labels
    by code, use ``code_ids(codes)``."""
    W, b = as_layer(W, b)
    codes = spline_codes(W, b, points)
    return codes, sphere_regions(W, b).locate(points)

