/* Browser-side repaint of the Stretch & fold panels while t is dragged or played.
 *
 * It mirrors polyviz/stretch_fold.py (transform, u_eps, the Fibonacci sphere points) and
 * polyviz/figures/stretch_fold.py (trace order, MOVING_TRACES), so a frame needs no server
 * round trip. Only the traces that depend on t are repainted, at most once per animation
 * frame: a move that arrives while a frame is being drawn replaces any older waiting one, so
 * the picture never lags behind the pointer. They are moved in the WebGL objects Plotly drew
 * them with (assets/direct_draw.js: no Plotly redraw, no Dash figure round trip), or with
 * Plotly.restyle where that cannot be done. The server draws the exact figure once the
 * slider is released or play stops (its Patch replaces these traces).
 *
 * Every number is computed in float64 from the numbers the server sent (its float32 inputs)
 * and rounded to float32 as the server rounds its own, so a repainted trace holds the values
 * the server's figure for that t holds. */
(function () {
  "use strict";

  // The graph ids of layouts/stretch_fold.py, by panel name (polyviz.figures.stretch_fold).
  const PANELS = { circle: "sf-circle", curve: "sf-curve", surface: "sf-surface", sphere: "sf-sphere" };
  const SLIDER = "sf-t", PLAY = "sf-play";
  const T_MIN = -5, T_MAX = 5, PLAY_SPEED = 1.0;  // t units per second while playing
  const SLIDER_SYNC_MS = 250;  // how often play moves the slider's handle (a Dash round of React)

  // Plotly sends NumPy arrays as {dtype, bdata} (assets/direct_draw.js decodes them): decode
  // once per array object, as float64.
  const decoded = new WeakMap();
  function values(v) {
    if (v && typeof v === "object" && decoded.has(v)) return decoded.get(v);
    let out;
    if (v && v.bdata !== undefined) {
      out = Float64Array.from(window.polyvizDirectDraw.typedArray(v));
    } else {
      out = Float64Array.from(v || [], (x) => (x === null ? NaN : x));
    }
    if (v && typeof v === "object") decoded.set(v, out);
    return out;
  }

  // T_t then u_eps, for a point (x, y[, z]): writes [X, Y, Z] into out (polyviz.stretch_fold).
  function landing(x, y, z, m, t, out) {
    let X = x, Y = y;
    if (m.op === "stretch") X = t * x;
    else if (m.op === "shift") X = x + t;
    else {
      const a = m.affine;
      X = x + t * ((a[0] - 1.0) * x + a[1] * y + a[4]);
      Y = y + t * (a[2] * x + (a[3] - 1.0) * y + a[5]);
    }
    out[3] = X; out[4] = Y;  // the moved point, before u_eps
    const k = 1.0 / Math.sqrt(X * X + Y * Y + z * z + m.eps);
    out[0] = X * k; out[1] = Y * k; out[2] = z * k;
    return out;
  }

  // numpy.linspace(lo, hi, n)[i]
  function linspace(lo, hi, n, i) {
    return i === n - 1 ? hi : lo + i * ((hi - lo) / (n - 1));
  }

  // Python's f"{t:.2f}" and f"{eps:.3g}" for the values the page can hold.
  function circleTitle(m, t) {
    return "u<sub>ε</sub>(T<sub>t</sub>(x)) — " + m.op + ", t = " + t.toFixed(2) + ", ε = " +
      String(Number(m.eps.toPrecision(3)));
  }

  /* The repaint of every panel for t, from the figures the browser holds (figure dicts or
   * graph divs: anything with data and layout.meta). Per panel: the trace indices, the new
   * arrays per property (one per index, as Plotly.update takes them) and the layout keys. */
  function frame(t, figs) {
    const circle = figs.circle, m = circle.layout.meta, p = [0, 0, 0, 0, 0];
    const xs = values(circle.data[2].x), ys = values(circle.data[2].y), n = xs.length;
    const ix = new Float32Array(n), iy = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      landing(xs[i], ys[i], 0, m, t, p);
      ix[i] = p[0]; iy[i] = p[1];
    }
    const shown = Math.ceil(n / m.stride), sx = new Float32Array(3 * shown), sy = new Float32Array(3 * shown);
    for (let s = 0, i = 0; i < n; s++, i += m.stride) {
      sx[3 * s] = xs[i]; sx[3 * s + 1] = ix[i]; sx[3 * s + 2] = NaN;
      sy[3 * s] = ys[i]; sy[3 * s + 1] = iy[i]; sy[3 * s + 2] = NaN;
    }
    const out = {
      circle: { traces: [1, 3], update: { x: [sx, ix], y: [sy, iy] },
                layout: { "meta.t": t, "title.text": circleTitle(m, t) } },
    };

    const curve = figs.curve, cm = curve.layout.meta;
    const cx = values(curve.data[1].x), cy = new Float32Array(cx.length);
    for (let i = 0; i < cx.length; i++) cy[i] = landing(cx[i], 0, 0, cm, t, p)[0];
    const py = new Float32Array(Math.ceil(n / cm.stride));
    for (let s = 0, i = 0; i < n; s++, i += cm.stride) py[s] = landing(xs[i], ys[i], 0, cm, t, p)[0];
    out.curve = { traces: [1, 2], update: { y: [cy, py] }, layout: { "meta.t": t } };

    const surface = figs.surface, sm = surface.layout.meta, steps = values(surface.data[1].x).length;
    const ax = new Float32Array(steps), ay = new Float32Array(steps), az = new Float32Array(steps);
    for (let i = 0; i < steps; i++) {
      const a = linspace(0.0, 2.0 * Math.PI, steps, i);
      landing(Math.cos(a), Math.sin(a), 0, sm, t, p);
      ax[i] = p[3]; ay[i] = p[4]; az[i] = p[0] + 0.02;
    }
    out.surface = { traces: [1], update: { x: [ax], y: [ay], z: [az] }, layout: { "meta.t": t } };

    const sphere = figs.sphere, pm = sphere.layout.meta, count = values(sphere.data[1].x).length;
    const X = new Float32Array(count), Y = new Float32Array(count), Z = new Float32Array(count);
    const golden = Math.PI * (3.0 - Math.sqrt(5.0));
    for (let i = 0; i < count; i++) {
      const z = 1.0 - (2.0 * (i + 0.5)) / count, r = Math.sqrt(Math.max(0.0, 1.0 - z * z)), phi = golden * (i + 0.5);
      landing(r * Math.cos(phi), r * Math.sin(phi), z, pm, t, p);
      X[i] = p[0]; Y[i] = p[1]; Z[i] = p[2];
    }
    out.sphere = { traces: [1], update: { x: [X], y: [Y], z: [Z] }, layout: { "meta.t": t } };
    return out;
  }

  // --- painting ---------------------------------------------------------------------
  function graphs() {
    const out = {};
    for (const [name, id] of Object.entries(PANELS)) {
      const box = document.getElementById(id);
      const gd = box && box.querySelector(".js-plotly-plot");
      if (!gd || !gd.data || !gd.layout || !gd.layout.meta) return null;
      out[name] = gd;
    }
    return out;
  }

  function paint(t) {
    const gds = graphs();
    if (!gds) return Promise.resolve();
    const updates = frame(t, gds), direct = window.polyvizDirectDraw;
    return Promise.all(Object.entries(updates).map(([name, u]) => {
      const gd = gds[name];
      if (gd.layout.meta.t === t) return null;
      // layout.meta is edit type "plot" in Plotly: relayouting it redraws the whole figure
      // (every 3-D scene, every axis). It draws nothing, so it is written in place.
      const layout = Object.assign({}, u.layout);
      gd.layout.meta.t = layout["meta.t"];
      delete layout["meta.t"];
      const title = layout["title.text"];
      if (direct && (title === undefined || direct.directRetitle(gd, title))) {
        delete layout["title.text"];
        if (!Object.keys(layout).length && direct.directRestyle(gd, u.update, u.traces)) return null;
      }
      return Object.keys(layout).length
        ? window.Plotly.update(gd, u.update, layout, u.traces)
        : window.Plotly.restyle(gd, u.update, u.traces);
    }));
  }

  // at most one repaint per animation frame, of the newest t (assets/direct_draw.js)
  const painter = window.polyvizDirectDraw.framePainter(paint, "stretch-fold repaint", true);
  const show = (t) => painter.show(t);

  // --- play: t sweeps back and forth in the browser, one repaint per animation frame ---
  const play = { on: false, t: 0, dir: 1, last: 0, synced: 0, handle: null };

  function tick(now) {
    if (!play.on) return;
    const dt = Math.max(0, Math.min(0.1, (now - play.last) / 1000));  // a stalled tab does not jump
    play.last = now;
    let next = play.t + play.dir * PLAY_SPEED * dt;
    if (next >= T_MAX) { next = T_MAX; play.dir = -1; }
    if (next <= T_MIN) { next = T_MIN; play.dir = 1; }
    play.t = next;
    if (!painter.busy) show(Math.round(next * 100) / 100);  // on the slider's 0.01 grid, as a link holds it
    if (now - play.synced > SLIDER_SYNC_MS && window.dash_clientside.set_props) {
      play.synced = now;
      play.handle = Math.round(next * 100) / 100;
      window.dash_clientside.set_props(SLIDER, { value: play.handle });
    }
    window.requestAnimationFrame(tick);
  }

  function startPlay(t) {
    play.on = true; play.t = typeof t === "number" ? t : 0;
    play.last = play.synced = performance.now();
    window.requestAnimationFrame(tick);
  }

  function stopPlay() {
    play.on = false;
    return Math.round(play.t * 100) / 100;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.polyviz = Object.assign({}, window.dash_clientside.polyviz, {
    sfFrame: frame,
    // The t handle is being dragged: repaint for its value (a drag stops play; the slider
    // also reports the handle that play moves, which is no drag).
    sfLive: function (t) {
      if (typeof t === "number" && !(play.on && t === play.handle)) {
        if (play.on) {
          stopPlay();
          window.dash_clientside.set_props(PLAY, { children: "▶ play" });
        }
        show(t);
      }
      return window.dash_clientside.no_update;
    },
    // Play / pause. On pause the server gets the t shown, once, and then the slider's handle
    // moves there (in a later round: a slider change in the same round as the commit would
    // make Dash hold the server callback back behind commitT, which has nothing to add).
    togglePlay: function (_clicks, t) {
      const nu = window.dash_clientside.no_update;
      if (!play.on) {
        startPlay(t);
        return ["❚❚ pause", nu];
      }
      const at = stopPlay();
      show(at);
      setTimeout(() => window.dash_clientside.set_props(SLIDER, { value: at }), 0);
      return ["▶ play", at];
    },
    // The slider's committed value goes to the server, except while play moves it (and
    // when the server has it already).
    commitT: function (t, committed) {
      return play.on || t === committed ? window.dash_clientside.no_update : t;
    },
  });
})();
