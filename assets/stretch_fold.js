/* Browser-side redraw of the Stretch & fold panels while t is dragged or played.
 *
 * It mirrors polyviz/stretch_fold.py (transform, u_eps) and polyviz/figures/stretch_fold.py (trace
 * order, Fibonacci sphere points) so that each frame needs no server round trip; the
 * server redraws the exact figure once the slider is released or play stops. */
(function () {
  "use strict";

  // Plotly sends NumPy arrays as {dtype, bdata}: decode to a plain JS array.
  const TYPED = { f4: Float32Array, f8: Float64Array, u1: Uint8Array, i1: Int8Array,
                  u2: Uint16Array, i2: Int16Array, u4: Uint32Array, i4: Int32Array };
  function arr(v) {
    if (Array.isArray(v)) return v;
    if (v && v.bdata !== undefined) {
      const raw = atob(v.bdata);
      const bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      return Array.from(new TYPED[v.dtype](bytes.buffer));
    }
    return Array.from(v || []);
  }

  function transform(x, y, m, t) {
    if (m.op === "stretch") return [t * x, y];
    if (m.op === "shift") return [x + t, y];
    const [a11, a12, a21, a22, b1, b2] = m.affine;
    return [x + t * ((a11 - 1) * x + a12 * y + b1), y + t * (a21 * x + (a22 - 1) * y + b2)];
  }

  function uEps(v, eps) {
    let s = eps;
    for (const c of v) s += c * c;
    const k = 1 / Math.sqrt(s);
    return v.map((c) => c * k);
  }

  function withMeta(fig, t, data, title) {
    const layout = Object.assign({}, fig.layout, { meta: Object.assign({}, fig.layout.meta, { t: t }) });
    if (title !== undefined) layout.title = Object.assign({}, fig.layout.title, { text: title });
    return Object.assign({}, fig, { data: data, layout: layout });
  }

  function redrawCircle(fig, t) {
    const m = fig.layout.meta;
    const xs = arr(fig.data[2].x), ys = arr(fig.data[2].y);
    const ix = new Array(xs.length), iy = new Array(xs.length);
    for (let i = 0; i < xs.length; i++) {
      const p = uEps(transform(xs[i], ys[i], m, t), m.eps);
      ix[i] = p[0]; iy[i] = p[1];
    }
    const sx = [], sy = [];
    for (let i = 0; i < xs.length; i += m.stride) {
      sx.push(xs[i], ix[i], NaN); sy.push(ys[i], iy[i], NaN);
    }
    const data = fig.data.slice();
    data[1] = Object.assign({}, data[1], { x: sx, y: sy });
    data[3] = Object.assign({}, data[3], { x: ix, y: iy });
    const title = "u<sub>ε</sub>(T<sub>t</sub>(x)) — " + m.op + ", t = " + t.toFixed(2) + ", ε = " + Number(m.eps.toPrecision(3));
    return withMeta(fig, t, data, title);
  }

  function redrawCurve(fig, circle, t) {
    const m = fig.layout.meta;
    const cx = arr(fig.data[1].x);
    const cy = cx.map((x) => uEps(transform(x, 0, m, t), m.eps)[0]);
    const xs = arr(circle.data[2].x), ys = arr(circle.data[2].y);
    const px = [], py = [];
    for (let i = 0; i < xs.length; i += m.stride) {
      px.push(xs[i]); py.push(uEps(transform(xs[i], ys[i], m, t), m.eps)[0]);
    }
    const data = fig.data.slice();
    data[1] = Object.assign({}, data[1], { y: cy });
    data[2] = Object.assign({}, data[2], { x: px, y: py });
    return withMeta(fig, t, data);
  }

  function redrawSurface(fig, t) {
    const m = fig.layout.meta;
    const steps = arr(fig.data[1].x).length;
    const px = [], py = [], pz = [];
    for (let i = 0; i < steps; i++) {
      const a = (2 * Math.PI * i) / (steps - 1);
      const v = transform(Math.cos(a), Math.sin(a), m, t);
      px.push(v[0]); py.push(v[1]); pz.push(uEps(v, m.eps)[0] + 0.02);
    }
    const data = fig.data.slice();
    data[1] = Object.assign({}, data[1], { x: px, y: py, z: pz });
    return withMeta(fig, t, data);
  }

  function redrawSphere(fig, t) {
    const m = fig.layout.meta;
    const n = arr(fig.data[1].x).length;
    const golden = Math.PI * (3 - Math.sqrt(5));
    const X = [], Y = [], Z = [];
    for (let i = 0; i < n; i++) {
      const z = 1 - (2 * (i + 0.5)) / n, r = Math.sqrt(Math.max(0, 1 - z * z)), phi = golden * (i + 0.5);
      const v = transform(r * Math.cos(phi), r * Math.sin(phi), m, t);
      const p = uEps([v[0], v[1], z], m.eps);
      X.push(p[0]); Y.push(p[1]); Z.push(p[2]);
    }
    const data = fig.data.slice();
    data[1] = Object.assign({}, data[1], { x: X, y: Y, z: Z });
    return withMeta(fig, t, data);
  }

  function redrawAll(t, circle, curve, surface, sphere) {
    const nu = window.dash_clientside.no_update;
    if (!circle || !circle.layout || !circle.layout.meta) return [nu, nu, nu, nu];
    return [redrawCircle(circle, t), redrawCurve(curve, circle, t), redrawSurface(surface, t), redrawSphere(sphere, t)];
  }

  const STEP = 0.05, T_MIN = -5, T_MAX = 5;

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    polyviz: Object.assign({}, (window.dash_clientside || {}).polyviz, {
      sfLive: function (t, circle, curve, surface, sphere) {
        if (typeof t !== "number") return Array(4).fill(window.dash_clientside.no_update);
        return redrawAll(t, circle, curve, surface, sphere);
      },
      sfTick: function (_n, t, direction, circle, curve, surface, sphere) {
        let dir = direction || 1;
        let next = (typeof t === "number" ? t : 0) + dir * STEP;
        if (next >= T_MAX) { next = T_MAX; dir = -1; }
        if (next <= T_MIN) { next = T_MIN; dir = 1; }
        next = Math.round(next * 100) / 100;
        return [next, dir].concat(redrawAll(next, circle, curve, surface, sphere));
      },
      togglePlay: function (_clicks, disabled, t) {
        const nu = window.dash_clientside.no_update;
        if (disabled) return [false, "❚❚ pause", nu];
        return [true, "▶ play", t];
      },
      commitT: function (t, timerDisabled) {
        return timerDisabled === false ? window.dash_clientside.no_update : t;
      },
    }),
  });
})();
