/* Browser-side repaint of the /sphere panels while v, w or k is dragged.
 *
 * It mirrors the closed forms of polyviz (polytopes.plane_direction, great_circle,
 * circle_coefficients, rotation_probe, scaling_regions) and the trace order of
 * polyviz/figures/sphere.py (scene_marker_traces, unrolled_spec, rotation_spec, scaling_spec),
 * from the layer the server put in the sp-live-layer store. Only the traces and layout
 * entries that move are repainted (Plotly.update on the graphs, the 3-D scene's moved
 * traces in its WebGL objects where they can be: at most once per animation frame, stale
 * positions dropped). Titles, the words under the panels and the counts' fine
 * print follow when the slider is released: then the server draws every figure exactly (its
 * float64 tolerances for merged or tangent crossings included) and replaces these traces. */
(function () {
  "use strict";

  const TAU = 2 * Math.PI;
  const GRAPHS = { scene: "sp-scene", circle: "sp-circle", scaling: "sp-scaling", rotation: "sp-rotation" };
  const SCENE_BASE_TRACES = { 3: 7, 4: 2 };
  const RAY_LIMIT = 1.6 * Math.sqrt(3.0);
  const SAME_DIRECTION_RTOL = 1e-12, BREAKPOINT_RTOL = 1e-12;
  const MAX_CURVE_VALUES = 8000;

  // --- small linear algebra (float64, in numpy's order of operations) -----------------
  function helmert(n) {
    const rows = [];
    for (let k = 1; k < n; k++) {
      const s = Math.sqrt(k * (k + 1)), row = new Array(n).fill(0);
      for (let i = 0; i < k; i++) row[i] = 1.0 / s;
      row[k] = -k / s;
      rows.push(row);
    }
    return rows;
  }
  const dot = (a, b) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
  const norm = (a) => Math.sqrt(dot(a, a));
  const scale = (a, s) => a.map((x) => x * s);
  const center = (a) => { let m = 0; for (const x of a) m += x; m /= a.length; return a.map((x) => x - m); };
  const matvec = (W, x) => W.map((row) => dot(row, x));

  function planeDirection(d, az, el) {
    const B = helmert(d), a = az * (Math.PI / 180), e = el * (Math.PI / 180);
    const flat = B[0].map((x, i) => Math.cos(a) * x + Math.sin(a) * B[1][i]);
    if (d === 3) return flat;
    return flat.map((x, i) => Math.cos(e) * x + Math.sin(e) * B[2][i]);
  }

  // polytopes.great_circle: (p, q, angle), angle null when w is parallel to v.
  function greatCircle(v, w) {
    const cv = center(v), cw = center(w), nv = norm(cv), p = scale(cv, 1 / nv);
    const along = dot(cw, p), rest = cw.map((x, i) => x - along * p[i]), nr = norm(rest);
    if (nr > SAME_DIRECTION_RTOL * Math.max(norm(cw), 1e-300)) return [p, scale(rest, 1 / nr), Math.atan2(nr, along)];
    const basis = helmert(p.length);
    let best = 0;
    basis.forEach((row, i) => { if (Math.abs(dot(row, p)) < Math.abs(dot(basis[best], p))) best = i; });
    const axis = basis[best], r = axis.map((x, i) => x - dot(axis, p) * p[i]);
    return [p, scale(r, 1 / norm(r)), null];
  }

  function linspace(lo, hi, n, endpoint) {
    const out = new Float64Array(n), step = (hi - lo) / (endpoint ? n - 1 : n);
    for (let i = 0; i < n; i++) out[i] = lo + i * step;
    if (endpoint && n > 1) out[n - 1] = hi;
    return out;
  }

  // Phi(z) to float64 accuracy: erf by its positive series, erfc by a continued fraction.
  function erfc(x) {  // x >= 0
    if (x < 3) {
      let term = x, sum = x;
      for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * sum; n++) { term *= 2 * x * x / (2 * n + 1); sum += term; }
      return 1 - 2 / Math.sqrt(Math.PI) * Math.exp(-x * x) * sum;
    }
    let f = 0;
    for (let n = 60; n >= 1; n--) f = (n / 2) / (x + f);
    return Math.exp(-x * x) / Math.sqrt(Math.PI) / (x + f);
  }
  const ndtr = (z) => (z >= 0 ? 1 - 0.5 * erfc(z / Math.SQRT2) : 0.5 * erfc(-z / Math.SQRT2));
  const activate = (z, act) => (act === "relu" ? Math.max(z, 0) : z * ndtr(z));
  const slopeOf = (z, act) => (act === "relu" ? (z > 0 ? 1 : 0) : ndtr(z) + z * Math.exp(-0.5 * z * z) / Math.sqrt(TAU));
  const softCode = (z, act) => (act === "relu" ? (z > 0 ? 1 : 0) : ndtr(z));

  // Python's f"{x:.3g}" for the values a slider holds.
  const g3 = (x) => String(Number(x.toPrecision(3)));

  // circle_coefficients and the generic closed-form crossings (sorted, in [0, 2pi)).
  function coefficients(L, p, q, radius) {
    const A = matvec(L.W, p).map((x) => x * radius), B = matvec(L.W, q).map((x) => x * radius);
    return { A, B, c: L.b.slice() };
  }
  function crossings(co) {
    const out = [];
    co.c.forEach((c, j) => {
      const R = Math.hypot(co.A[j], co.B[j]);
      if (!(R > Math.abs(c))) return;
      const phi = Math.atan2(co.B[j], co.A[j]), delta = Math.acos(Math.min(1, Math.max(-1, -c / R)));
      for (const e of [phi - delta, phi + delta]) out.push(((e % TAU) + TAU) % TAU);
    });
    return out.sort((a, b) => a - b);
  }
  const pre = (co, a, j) => Math.cos(a) * co.A[j] + Math.sin(a) * co.B[j] + co.c[j];
  const f32 = (a) => Float32Array.from(a);

  // --- the panels -------------------------------------------------------------------
  function sceneMarkers(v, w, k, d) {
    const [p, q, angle] = greatCircle(v, w), end = angle === null ? TAU : angle;
    const a = linspace(0, end, Math.max(2, Math.trunc(90 * end / Math.PI) + 2), true);
    const wv = center(w), w_dir = norm(wv) > 0 ? scale(wv, 1 / norm(wv)) : p;
    const basis = helmert(d).slice(0, 3), s = d === 3 ? Math.sqrt(3.0) : 1.012;
    const toScene = d === 3 ? (x) => x : (x) => basis.map((row) => dot(x, row));
    const path = [[], [], []];
    for (const t of a) toScene(p.map((x, i) => Math.cos(t) * x + Math.sin(t) * q[i])).forEach((x, i) => path[i].push(s * x));
    const vp = toScene(p).map((x) => s * x), wp = toScene(w_dir).map((x) => s * x);
    const update = { x: [path[0], [vp[0]], [wp[0]]].map(f32), y: [path[1], [vp[1]], [wp[1]]].map(f32),
                     z: [path[2], [vp[2]], [wp[2]]].map(f32) };
    const base = SCENE_BASE_TRACES[d], traces = [base + 1, base + 2, base + 3];
    if (d === 3) {
      const tip = Math.min(k, RAY_LIMIT), beyond = k <= RAY_LIMIT ? "" : " (drawn to the plane's edge)";
      update.x.unshift(f32([0, tip * p[0]])); update.y.unshift(f32([0, tip * p[1]])); update.z.unshift(f32([0, tip * p[2]]));
      update.name = [`k·v, k = ${g3(k)}`, undefined, undefined, undefined];
      update.hovertemplate = [`k·v, k = ${g3(k)}${beyond}<extra></extra>`, undefined, undefined, undefined];
      traces.unshift(base);
    }
    return { traces, update, layout: {} };
  }

  function unrolled(L, v, w) {
    const d = L.dim, n = L.b.length, [p, q, angle] = greatCircle(v, w);
    const co = coefficients(L, p, q, Math.sqrt(d)), angles = crossings(co);
    const steps = Math.trunc(Math.max(90, Math.min(361, Math.floor(MAX_CURVE_VALUES / Math.max(n, 1)))));
    const a = linspace(0, TAU, steps, true);
    let zmax = 0;
    const curves = [], grid = new Uint8Array(n * steps);
    for (let j = 0; j < n; j++) {
      const y = new Float64Array(steps);
      for (let i = 0; i < steps; i++) {
        y[i] = pre(co, a[i], j);
        zmax = Math.max(zmax, Math.abs(y[i]));
        grid[j * steps + i] = Math.round(softCode(y[i], L.act) * 255);
      }
      curves.push(f32(y));
    }
    const zlim = n && zmax > 0 ? zmax * 1.08 : 1.0;
    // Arc shading: one bar per arc coloured by its code, the wrap-around arc split in two.
    const starts = angles.length ? angles : [0], ends = angles.length ? angles.slice(1).concat([angles[0] + TAU]) : [TAU];
    const colour = starts.map((s, i) => {
      const mid = 0.5 * (s + ends[i]);
      let key = 0;
      for (let j = 0; j < n; j++) if (pre(co, mid, j) > 0) key += L.g[j];
      return key % L.palette.length;
    });
    const lo = starts.concat([0]), hi = ends.map((e) => Math.min(e, TAU)).concat([Math.max(0, ends[ends.length - 1] - TAU)]);
    const index = colour.concat([colour[colour.length - 1]]);
    const shown = lo.map((l, i) => hi[i] > l);
    const keep = (arr) => arr.filter((_, i) => shown[i]);
    const blo = keep(lo), bhi = keep(hi);
    const marks = [[0, "v", L.colours.v]].concat(angle === null ? [] : [[angle, "w", L.colours.w]]);
    const traces = [0, 1, 2].concat(curves.map((_, j) => 3 + j));
    const update = {
      x: [f32(blo.map((l, i) => 0.5 * (l + bhi[i]))), f32(angles), undefined].concat(curves.map(() => undefined)),
      y: [f32(blo.map(() => 2 * zlim)), f32(angles.map(() => 0)), undefined].concat(curves),
      base: [-zlim].concat(traces.slice(1).map(() => undefined)),
      width: [f32(blo.map((l, i) => bhi[i] - l))].concat(traces.slice(1).map(() => undefined)),
      "marker.color": [keep(index).map((i) => L.palette[i])].concat(traces.slice(1).map(() => undefined)),
      z: [undefined, undefined, { dtype: "u1", bdata: b64(grid), shape: `${n},${steps}` }].concat(curves.map(() => undefined)),
    };
    const layout = {
      "yaxis.range": [-zlim, zlim],
      shapes: marks.map(([x, , c]) => ({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0.0, y1: 1.0,
                                         line: { color: c, width: 1.5, dash: "dot" } })),
      annotations: marks.map(([x, text, c]) => ({ x: x, y: 1.0, xref: "x", yref: "paper", yanchor: "top",
                                                  xanchor: "left", showarrow: false, text: `<b>${text}</b>`,
                                                  font: { size: 13, color: c } })),
    };
    return { traces, update, layout };
  }

  function b64(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
  }

  function rotation(L, v, w, full) {
    let [, q0, angle0] = greatCircle(v, w);
    const parallel = angle0 === null;
    if (parallel) { w = q0; full = true; }
    const [p, q, angleW] = greatCircle(v, w), d = L.dim, end = full ? TAU : angleW;
    const co = coefficients(L, p, q, Math.sqrt(d)), n = L.b.length;
    const a = linspace(0, end, 361, !full), out = new Float64Array(a.length), slope = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) {
      let y = 0, s = 0;
      for (let j = 0; j < n; j++) {
        const z = pre(co, a[i], j), dz = -Math.sin(a[i]) * co.A[j] + Math.cos(a[i]) * co.B[j];
        y += activate(z, L.act) * L.w_out[j];
        s += slopeOf(z, L.act) * dz * L.w_out[j];
      }
      out[i] = y; slope[i] = Math.abs(s);
    }
    const cross = crossings(co).filter((x) => x > 0 && x < end);
    const ycross = cross.map((x) => { let y = 0; for (let j = 0; j < n; j++) y += activate(pre(co, x, j), L.act) * L.w_out[j]; return y; });
    const marks = !parallel && full && angle0 !== null;
    return {
      traces: [0, 1, 2],
      update: { x: [f32(a), f32(cross), f32(a)], y: [f32(out), f32(ycross), f32(slope)] },
      layout: {
        "xaxis.range": [0, end], "xaxis2.range": [0, end],
        shapes: marks ? [{ type: "line", xref: "x", yref: "paper", x0: angle0, x1: angle0, y0: 0, y1: 1,
                           line: { color: L.colours.note, width: 1.2, dash: "dot" } }] : [],
        annotations: marks ? [{ x: angle0, y: 1, xref: "x", yref: "paper", yanchor: "top", showarrow: false,
                                text: "w", font: { size: 12, color: L.colours.note } }] : [],
      },
    };
  }

  // The ray k v without the normalisation: neuron i flips at k = -b_i / (W_ray v)_i.
  function scalingSteps(L, v, kmax) {
    const slope = matvec(L.W_ray, v), ks = [];
    slope.forEach((s, i) => { const k = -L.b[i] / s; if (s !== 0 && k > 0 && k <= kmax) ks.push(k); });
    ks.sort((x, y) => x - y);
    const distinct = ks.filter((k, i) => i === 0 || k - ks[i - 1] > BREAKPOINT_RTOL * Math.abs(k));
    const x = [0].concat(distinct, [kmax]), y = x.map((_, i) => 1 + Math.min(i, distinct.length));
    return { x: f32(x), y: f32(y), regions: 1 + distinct.length };
  }

  function scalingMark(k, kmax) {
    k = Math.min(Math.max(k, 1e-12), kmax);
    return { "shapes[0].x0": k, "shapes[0].x1": k, "annotations[0].x": k, "annotations[0].text": `k = ${g3(k)}` };
  }

  // --- painting, latest position only -------------------------------------------------
  function gd(id) {
    const box = document.getElementById(id);
    return box && box.querySelector(".js-plotly-plot");
  }

  /* The repaint of every panel the moved slider changes; s: {moved: "v"|"w"|"k", v_az,
   * v_el, w_az, w_el, k, kmax, full, layer}. */
  function frame(s) {
    const L = s.layer, d = L.dim, v = planeDirection(d, s.v_az, s.v_el), w = planeDirection(d, s.w_az, s.w_el);
    const out = { scene: sceneMarkers(v, w, s.k, d) };
    if (s.moved !== "k") {
      out.circle = unrolled(L, v, w);
      out.rotation = rotation(L, v, w, s.full);
    }
    if (s.moved === "v") {
      const steps = scalingSteps(L, v, s.kmax);
      out.scaling = { traces: [0], update: { x: [steps.x], y: [steps.y] }, layout: scalingMark(s.k, s.kmax),
                      regions: steps.regions };
    } else if (s.moved === "k") {
      out.scaling = { traces: [], update: {}, layout: scalingMark(s.k, s.kmax) };
    }
    return out;
  }

  // The scene's markers and path can be moved in its WebGL objects (assets/direct_draw.js)
  // when no legend entry or hover text changes with them (a v or w drag; k renames the ray).
  const LABELS = ["name", "hovertemplate"];
  function sameLabels(g, u) {
    return Object.keys(u.update).every((key) => ["x", "y", "z"].includes(key) || (LABELS.includes(key) &&
      u.update[key].every((value, k) => value === undefined || value === g.data[u.traces[k]][key]))) &&
      !Object.keys(u.layout).length;
  }
  function positionsOnly(update) {
    return { x: update.x, y: update.y, z: update.z };
  }

  function paint(s) {
    const updates = frame(s), direct = window.polyvizDirectDraw;
    return Promise.all(Object.entries(updates).map(([name, u]) => {
      const g = gd(GRAPHS[name]);
      if (!g || !g.data) return null;
      if (name === "scaling" && u.regions !== undefined) {  // "without X (n)": the count follows
        u.update.name = [String(g.data[0].name).replace(/\(\d+\)$/, `(${u.regions})`)];
      }
      if (name === "scene" && sameLabels(g, u) && direct && direct.directRestyle(g, positionsOnly(u.update), u.traces)) {
        return null;
      }
      return u.traces.length ? window.Plotly.update(g, u.update, u.layout, u.traces) : window.Plotly.relayout(g, u.layout);
    }));
  }
  // At most one repaint per animation frame, of the newest position, on the next frame
  // (assets/direct_draw.js). Not at once, as on Stretch & fold: a repaint here is ~80 ms of
  // Plotly.update, and one started at once met the server's exact figures at release (drag
  // p50 101 -> 83 ms, but release -> exact figures 91 -> 180 ms, interleaved A/B x3).
  const painter = window.polyvizDirectDraw.framePainter(paint, "sphere repaint", false);

  const MOVED = { "sp-v-az": "v", "sp-v-el": "v", "sp-w-az": "w", "sp-w-el": "w", "sp-k": "k" };
  const num = (drag, value) => (typeof drag === "number" ? drag : value);

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.polyviz = Object.assign({}, window.dash_clientside.polyviz, {
    spFrame: frame,
    spLive: function (dva, dve, dwa, dwe, dk, va, ve, wa, we, k, kmax, full, layer) {
      const ctx = window.dash_clientside.callback_context, nu = window.dash_clientside.no_update;
      const prop = ctx && ctx.triggered && ctx.triggered[0] ? ctx.triggered[0].prop_id.split(".")[0] : null;
      if (!layer || !MOVED[prop]) return nu;
      painter.show({ moved: MOVED[prop], v_az: num(dva, va), v_el: num(dve, ve), w_az: num(dwa, wa), w_el: num(dwe, we),
                     k: num(dk, k), kmax: kmax, full: Array.isArray(full) && full.includes("full"), layer: layer });
      return nu;
    },
  });
})();
