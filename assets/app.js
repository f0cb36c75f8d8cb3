/* Clientside helpers every page uses. Each assets/*.js file adds its functions to
 * window.dash_clientside.polyviz without replacing what another file put there. */
(function () {
  "use strict";
  // --- 3-D cameras in the link (polyviz.state.camera, layouts.common.camera_store) --------
  // A camera's text: the eye "x,y,z" rounded to thousandths, then the centre when it is not
  // the origin; each number within CAMERA_LIMIT (what polyviz.state accepts without a notice).
  var CAMERA_LIMIT = 10, CAMERA_TEXT = /^[-0-9.,]*$/;
  function cameraText(camera) {
    if (!camera || !camera.eye) return null;
    var e = camera.eye, c = camera.center || { x: 0, y: 0, z: 0 };
    var values = [e.x, e.y, e.z, c.x, c.y, c.z].map(function (v) {
      var r = Math.round(Number(v) * 1000) / 1000;
      return Math.min(Math.max(r, -CAMERA_LIMIT), CAMERA_LIMIT) + 0;  // + 0: no "-0"
    });
    if (!values.every(isFinite)) return null;
    if (!values[3] && !values[4] && !values[5]) values = values.slice(0, 3);
    return values.map(String).join(",");
  }
  // The query with the store's cameras in place of its own (an empty camera: left out).
  function withCameras(query, cameras) {
    if (!cameras || !cameras.graphs || !cameras.cams) return query;
    var fields = Object.keys(cameras.graphs).map(function (id) { return cameras.graphs[id]; });
    var pairs = query.split("&").filter(function (pair) {
      return pair && fields.indexOf(decodeURIComponent(pair.split("=")[0])) < 0;
    });
    fields.forEach(function (field) {
      var cam = cameras.cams[field];
      if (typeof cam === "string" && cam && CAMERA_TEXT.test(cam)) pairs.push(field + "=" + cam);
    });
    return pairs.join("&");
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.polyviz = Object.assign({}, window.dash_clientside.polyviz, {
    // Write the page's canonical query (and its 3-D cameras) into the address bar without
    // reloading the page (a Dash Pages URL change would re-run the layout and rebuild every
    // control).
    replaceQuery: function (query, cameras) {
      if (typeof query === "string") {
        var full = withCameras(query, cameras);
        window.history.replaceState(window.history.state, "", window.location.pathname + (full ? "?" + full : ""));
      }
      return query;
    },
    // A 3-D graph was turned, zoomed or panned (its relayoutData names scene.camera): its
    // camera, as Plotly now holds it, goes into the page's camera store. Nothing else moves:
    // the figure is not redrawn and no server callback runs.
    keepCamera: function () {
      var nu = window.dash_clientside.no_update;
      var cameras = arguments[arguments.length - 1];
      var ctx = window.dash_clientside.callback_context;
      var hit = ctx && ctx.triggered && ctx.triggered[0];
      if (!cameras || !cameras.graphs || !cameras.cams || !hit || !hit.prop_id) return nu;
      var id = hit.prop_id.slice(0, hit.prop_id.lastIndexOf("."));
      var field = cameras.graphs[id], moved = hit.value;
      if (!field || !moved || !Object.keys(moved).some(function (key) { return key.indexOf("scene.camera") === 0; })) {
        return nu;
      }
      var gd = document.querySelector("#" + id + " .js-plotly-plot");
      var scene = gd && gd.layout && gd.layout.scene;
      var text = cameraText(scene && scene.camera ? scene.camera : moved["scene.camera"]);
      if (text === null || text === cameras.cams[field]) return nu;
      var cams = Object.assign({}, cameras.cams);
      cams[field] = text;
      return { graphs: cameras.graphs, cams: cams };
    },
    currentHref: function () {
      return window.location.href;
    },
  });

  // --- how plotly.js draws (window.Plotly: loaded from the page head, see below) ---
  // WebGL canvases at the screen's own pixel ratio. plotly.js draws them at twice the CSS
  // size by default (config.plotGlPixelRatio = 2): on a 1x screen that is four times the
  // pixels to fill for nothing the eye gets, and where WebGL runs on the CPU it doubles the
  // time of every repaint.
  var GL_PIXEL_RATIO = Math.min(2, Math.max(1, window.devicePixelRatio || 1));
  // Figures are drawn one per task, each after the browser has had a chance to paint, the
  // quick ones first. A server answer with four figures makes dcc.Graph call
  // Plotly.react four times in one task: on a slow machine the page then shows nothing for
  // the sum of the four draws (1.7 s on /stretch-fold, 2-core CPU, software WebGL) instead
  // of the first figure after its own; a 3-D scene's first draw is the slowest of all
  // (0.9 s on /sphere) and a 2-D WebGL one's is slower than SVG's, so what can show sooner
  // goes first. One graph's draws keep their order.
  // A hidden tab runs no animation frames: there the draws do not wait for one, and a tab
  // hidden while waiting stops waiting after PAINT_WAIT_MS.
  var PAINT_WAIT_MS = 1000;
  function afterPaint() {
    return new Promise(function (resolve) {
      var done = false;
      function go() { if (!done) { done = true; setTimeout(resolve, 0); } }
      if (document.visibilityState === "hidden") return go();
      window.requestAnimationFrame(go);
      setTimeout(go, PAINT_WAIT_MS);
    });
  }
  // How slow a figure's first draw is: 0 SVG only, 1 with 2-D WebGL (a WebGL context to
  // make: three canvases), 2 with a 3-D scene (a context, shaders, text turned into meshes).
  function drawCost(figure) {
    var data = figure && Array.isArray(figure.data) ? figure.data : [];
    var types = data.map(function (trace) { return String(trace && trace.type); });
    if ((figure && figure.layout && figure.layout.scene) ||
        types.some(function (t) { return /3d$|^surface$|^isosurface$|^volume$|^cone$|^streamtube$/.test(t); })) return 2;
    return types.some(function (t) { return /gl$/.test(t); }) ? 1 : 0;
  }
  function oneDrawPerTask(Plotly) {
    var react = Plotly.react, pending = [], draining = false;
    function next() {  // the cheapest waiting draw whose graph has no earlier one waiting
      var best = -1;
      for (var i = 0; i < pending.length; i++) {
        var job = pending[i], earlier = pending.slice(0, i).some(function (o) { return o.gd === job.gd; });
        if (!earlier && (best < 0 || job.cost < pending[best].cost)) best = i;
      }
      return pending.splice(best, 1)[0];
    }
    function drain() {
      if (draining || !pending.length) return;
      draining = true;
      afterPaint().then(function () {
        var job = next();
        var drawn;
        try {
          drawn = Promise.resolve(react.apply(job.self, job.args));
        } catch (error) {
          drawn = Promise.reject(error);
        }
        drawn.then(job.resolve, job.reject);
        return drawn.catch(function () {});  // one failed draw does not hold the others back
      }).then(function () {
        draining = false;
        drain();
      });
    }
    Plotly.react = function (gd, figure) {
      var self = this, args = arguments;
      return new Promise(function (resolve, reject) {
        pending.push({ gd: gd, cost: drawCost(figure), self: self, args: args, resolve: resolve, reject: reject });
        drain();
      });
    };
  }
  var plotly = window.Plotly;
  // plotly.js comes from a script in the page's head (services/plotly_bundle.py EARLY_ID), not
  // from dcc.Graph, which asks for it only when its first graph mounts (after the layout and
  // the page's first callbacks) and then waits for all of its download and compile. Until that
  // copy has run, window.Plotly is a promise of it, which dcc.Graph's loader waits for
  // instead of adding a second copy; if it failed, it is fetched once more.
  var arrival = window.polyvizPlotlyArrival, early = document.getElementById("polyviz-plotly"), coming = null;
  function loadAgain(src) {
    return new Promise(function (resolve) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = script.onerror = resolve;  // a second failure: dcc.Graph's loader tries too
      document.head.appendChild(script);
    });
  }
  if (!plotly && arrival && early) {
    coming = arrival.then(function (arrived) { return arrived || loadAgain(early.src); })
      .then(function () { coming = null; });
  }
  function adopt(value) {
    if (!value || typeof value.setPlotConfig !== "function" || value.__polyviz) return;
    value.__polyviz = true;
    value.setPlotConfig({ plotGlPixelRatio: GL_PIXEL_RATIO });
    oneDrawPerTask(value);
  }
  if (plotly) {
    adopt(plotly);  // it ran before this file: its global is fixed (a script's var), use it as it is
  } else {
    Object.defineProperty(window, "Plotly", {  // plotly.js's `var Plotly = ...` then calls set
      configurable: true, enumerable: true,
      get: function () { return plotly || coming || undefined; },
      set: function (value) { plotly = value; adopt(value); },
    });
  }

  // Markdown made by layouts/common.py math_markdown comes with mathjax off: turn it on once
  // the text nears the viewport, so MathJax (a large script) loads only for
  // text a visitor scrolls to, never before a page's first figure.
  var LAZY_MATH = "lazy-math";
  var seen = typeof WeakSet === "function" ? new WeakSet() : null;
  var near = typeof IntersectionObserver === "function" ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      near.unobserve(entry.target);
      typeset(entry.target);
    });
  }, { rootMargin: "0px 0px 25% 0px" }) : null;  // a quarter screen below: typeset just before it shows
  function typeset(box) {
    var setProps = window.dash_clientside && window.dash_clientside.set_props;
    if (setProps && box.id && box.isConnected) setProps(box.id, { mathjax: true });
  }
  function watchLazyMath() {
    var boxes = document.getElementsByClassName(LAZY_MATH);
    for (var i = 0; i < boxes.length; i++) {
      if (!near || !seen) {  // an old browser: typeset at once
        typeset(boxes[i]);
      } else if (!seen.has(boxes[i])) {
        seen.add(boxes[i]);
        near.observe(boxes[i]);
      }
    }
  }
  // Not before the page's first figure has drawn (or FIRST_FIGURE_WAIT_MS have passed): MathJax's
  // parse competes with Plotly's first draw on the one main thread.
  var FIRST_FIGURE_WAIT_MS = 6000;
  var started = Date.now();
  function figureDrawn() {
    var graphs = document.getElementsByClassName("js-plotly-plot");
    for (var i = 0; i < graphs.length; i++) {
      if (graphs[i]._fullLayout && graphs[i].data && graphs[i].data.length) return true;
    }
    return false;
  }
  (function waitForFirstFigure() {
    if (figureDrawn() || Date.now() - started > FIRST_FIGURE_WAIT_MS) {
      watchLazyMath();
      new MutationObserver(watchLazyMath).observe(document.documentElement, { childList: true, subtree: true });
    } else {
      setTimeout(waitForFirstFigure, 200);
    }
  })();
})();
