/* Repainting moved WebGL traces without Plotly's whole-figure redraw, for the pages that
 * animate in the browser (assets/stretch_fold.js, assets/sphere.js) and for a figure's
 * frames played by its ▶ button (assets/frame_player.js).
 *
 * Plotly.restyle re-runs supplyDefaults, calc and plot for every trace and axis of a
 * figure: 15-40 ms a panel on a 2-core machine where WebGL runs on the CPU, for a frame in
 * which only the positions of a few traces changed. directRestyle hands the new positions
 * straight to the objects Plotly drew those traces with (regl-line2d / regl-scatter2d for
 * scattergl, gl-plot3d's line, scatter and mesh objects for scatter3d and mesh3d) and draws
 * the canvas once; an SVG line (a scatter trace of mode "lines") gets the path Plotly would
 * write for it.
 * gd.data, gd._fullData and the hover data get the same arrays, so hover and the next
 * Plotly call (the server's figure, when the drag ends) start from what is on screen.
 *
 * It draws what Plotly would draw only where a moved trace cannot move an axis: the
 * caller's figures fix every axis range (and 3-D aspect ratios). When the graph is in any
 * state it does not handle (not drawn yet, a selection, a line shape other than linear, a
 * simplified SVG line, a trace type other than these four), it changes nothing and returns
 * false: the caller then uses Plotly. After a direct draw the graph emits "polyviz_painted"
 * (Plotly emits "plotly_afterplot" after its own draws; the browser benchmark listens to
 * both). */
(function () {
  "use strict";

  // Plotly's JSON form of a NumPy array, {dtype, bdata: base64[, shape]}, as the typed array it
  // holds; null for an array of more than one dimension or a dtype Plotly does not send.
  const DTYPES = { f4: Float32Array, f8: Float64Array, i1: Int8Array, u1: Uint8Array, i2: Int16Array,
                   u2: Uint16Array, i4: Int32Array, u4: Uint32Array };
  function typedArray(spec) {
    const Type = DTYPES[spec.dtype];
    if (!Type || (spec.shape && String(spec.shape).split(",").length > 1)) return null;
    const text = atob(spec.bdata), bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  function interleave(x, y) {
    const n = Math.min(x.length, y.length), out = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) { out[2 * i] = x[i]; out[2 * i + 1] = y[i]; }
    return out;
  }

  // regl-line2d is given a line without its leading and trailing gaps (as plotly's own
  // scattergl plot does: a line starting at NaN would join badly).
  function trimGaps(p) {
    let first = 0, last = p.length - 2;
    while (first < p.length && (isNaN(p[first]) || isNaN(p[first + 1]))) first += 2;
    while (last > first && (isNaN(p[last]) || isNaN(p[last + 1]))) last -= 2;
    return p.subarray(first, last + 2);
  }

  // One trace's new values, for each index of `traces`: {x: [...], y: [...]} as restyle takes
  // (undefined: unchanged).
  function arraysOf(update, k) {
    const out = {};
    for (const prop of Object.keys(update)) if (update[prop][k] !== undefined) out[prop] = update[prop][k];
    return out;
  }

  // The plan for a scattergl trace, or null when it cannot be drawn directly.
  function plan2d(gd, index, arrays) {
    const full = gd._fullData[index], cd = gd.calcdata && gd.calcdata[index];
    const stash = cd && cd[0] && cd[0].t;
    const subplot = gd._fullLayout._plots && gd._fullLayout._plots[full.xaxis + full.yaxis];
    const scene = subplot && subplot._scene;
    if (!stash || !scene || scene.dirty || scene.select2d || scene.fill2d || scene.error2d || scene.glText) return null;
    if (scene.selectBatch[stash.index].length || scene.unselectBatch[stash.index].length) return null;
    if ("visible" in arrays && arrays.visible !== full.visible) return null;
    const x = arrays.x || full.x, y = arrays.y || full.y;
    if (x.length !== full._length || y.length !== full._length) return null;
    const line = scene.lineOptions[stash.index], marker = scene.markerOptions[stash.index];
    if (line && (!scene.line2d || full.line.shape !== "linear")) return null;
    if (marker && !scene.scatter2d) return null;
    return { kind: "2d", scene: scene, at: stash.index, stash: stash, full: full, x: x, y: y, line: line, marker: marker };
  }

  // Within one range's width of an axis's range: far inside what Plotly clips a line to.
  function nearAxes(v, axis) {
    const lo = Math.min(axis.range[0], axis.range[1]), hi = Math.max(axis.range[0], axis.range[1]);
    return v >= lo - (hi - lo) && v <= hi + (hi - lo);
  }

  // The plan for an SVG line, or null. Plotly's scatter plot draws one path per run of finite
  // points, "M" + the points' pixel positions joined by "L" (scatter/plot.js); with
  // line.simplify false it keeps every point (scatter/line_points.js) and nothing else moves
  // it while the points stay inside the axes (it clips only far outside them).
  function planSvgLine(gd, index, arrays) {
    const full = gd._fullData[index], cd = gd.calcdata && gd.calcdata[index];
    const plotinfo = gd._fullLayout._plots && gd._fullLayout._plots[full.xaxis + full.yaxis];
    const group = cd && cd[0] && cd[0].node3 && cd[0].node3.node();
    if (!plotinfo || !group || !group.isConnected || full.visible !== true || full.mode !== "lines" ||
        full.fill !== "none" || full.line.shape !== "linear" || full.line.simplify !== false || full.connectgaps) {
      return null;
    }
    if ("visible" in arrays && arrays.visible !== full.visible) return null;
    const x = arrays.x || full.x, y = arrays.y || full.y, xa = plotinfo.xaxis, ya = plotinfo.yaxis;
    if (!x || !y || x.length !== cd.length || y.length !== cd.length || xa.type !== "linear" || ya.type !== "linear") return null;
    const runs = [];
    let run = null;
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) { run = null; continue; }
      if (!nearAxes(x[i], xa) || !nearAxes(y[i], ya)) return null;
      if (!run) { run = []; runs.push(run); }
      run.push([xa.c2p(x[i]), ya.c2p(y[i])]);
    }
    const paths = group.querySelectorAll("g.lines > path.js-line");
    if (paths.length !== runs.length) return null;
    return { kind: "svg", cd: cd, full: full, x: x, y: y, paths: paths, runs: runs };
  }

  // The plan for a scatter3d or mesh3d trace, or null. A trace that appears or disappears
  // is Plotly's to draw: its legend entry comes and goes with it.
  function plan3d(gd, index, arrays) {
    const full = gd._fullData[index], layout = gd._fullLayout[full.scene];
    const scene = layout && layout._scene, object = scene && scene.traces && scene.traces[full.uid];
    if (!object || !scene.glplot || scene.glplot.contextLost) return null;
    if (full.visible !== true || ("visible" in arrays && arrays.visible !== true)) return null;
    // A path may get longer or shorter (gl-plot3d's objects take any length), but x, y and z
    // keep one length.
    const length = (arrays.x || full.x).length;
    if ((arrays.y || full.y).length !== length || (arrays.z || full.z).length !== length || !length) return null;
    // A mesh's triangles (i, j, k) index its vertices: they must all still be there.
    if (full.type === "mesh3d" && [full.i, full.j, full.k].some((ids) => !ids || Array.from(ids).some((v) => v >= length))) {
      return null;
    }
    return { kind: "3d", scene: scene, object: object, full: full, length: length };
  }

  function directRestyle(gd, update, traces) {
    if (!gd || !gd._fullLayout || !gd._fullData || !Array.isArray(gd.data)) return false;
    const plans = [];
    for (let k = 0; k < traces.length; k++) {
      const index = traces[k], full = gd._fullData[index];
      if (!full || full.index !== index) return false;
      const arrays = arraysOf(update, k);
      const plan = full.type === "scattergl" ? full.visible === true && plan2d(gd, index, arrays)
        : full.type === "scatter" ? planSvgLine(gd, index, arrays)
        : full.type === "scatter3d" || full.type === "mesh3d" ? plan3d(gd, index, arrays) : null;
      if (!plan) return false;
      plan.index = index;
      plan.arrays = arrays;
      plans.push(plan);
    }

    // Everything checked: from here on, every trace is drawn.
    const scenes2d = new Set(), scenes3d = new Set();
    for (const plan of plans) {
      Object.assign(gd.data[plan.index], plan.arrays);
      Object.assign(plan.full, plan.arrays);
      if (plan.kind === "svg") {
        plan.runs.forEach((run, k) => plan.paths[k].setAttribute("d", "M" + run.join("L")));
        // hover reads the calcdata
        for (let i = 0; i < plan.cd.length; i++) {
          plan.cd[i].x = Number.isFinite(plan.x[i]) ? plan.x[i] : undefined;
          plan.cd[i].y = Number.isFinite(plan.y[i]) ? plan.y[i] : undefined;
        }
        continue;
      }
      if (plan.kind === "3d") {
        plan.full._length = plan.length;
        plan.object.update(plan.full);
        // Updated objects are "dirty", which makes gl-plot3d redraw its pick buffer (what
        // hover reads) and read it back from the GPU: a second render of the whole scene
        // and a wait for the GPU, 60-100 ms a frame where WebGL runs on the CPU. Hover
        // picks from the last full draw until Plotly next draws the figure (the server's
        // figure after a drag; the layer animation's traces are not hoverable).
        for (const obj of plan.scene.glplot.objects) if (obj._trace === plan.object) obj.dirty = false;
        scenes3d.add(plan.scene);
        continue;
      }
      // A pass per trace of the scene, undefined for "unchanged" (not a hole: regl-scatter2d
      // maps over the passes, and a hole would drop that trace's group).
      const positions = interleave(plan.x, plan.y), batch = new Array(plan.scene.count).fill(undefined);
      plan.stash.x = plan.x; plan.stash.y = plan.y; plan.stash.positions = positions;
      if (plan.line) {
        plan.line.positions = trimGaps(positions);
        batch[plan.at] = { positions: plan.line.positions };
        plan.scene.line2d.update(batch);
      }
      if (plan.marker) {
        plan.marker.positions = positions;
        batch[plan.at] = { positions: positions };
        plan.scene.scatter2d.update(batch);
      }
      scenes2d.add(plan.scene);
    }
    if (scenes2d.size) {
      // One WebGL canvas holds every 2-D scene of the figure: clear it, draw them all.
      gd._fullLayout._glcanvas.each(function (d) { if (d.regl) d.regl.clear({ color: true, depth: true }); });
      for (const key of Object.keys(gd._fullLayout._plots)) {
        const scene = gd._fullLayout._plots[key]._scene;
        if (scene && scene.count) scene.draw();
      }
    }
    for (const scene of scenes3d) scene.glplot.redraw();
    gd.emit("polyviz_painted");
    return true;
  }

  // A title whose text differs from the drawn one only in plain text (not in its markup):
  // the drawn SVG text nodes are rewritten in place. False, changing nothing, otherwise.
  function directRetitle(gd, text) {
    const title = gd && gd._fullLayout && gd._fullLayout.title;
    const drawn = gd && gd.querySelector && gd.querySelector(".g-gtitle .gtitle");
    if (!title || !drawn || !gd.layout.title) return false;
    const tags = (s) => s.match(/<[^>]*>/g) || [];
    if (tags(text).join("") !== tags(title.text).join("")) return false;
    const oldParts = title.text.split(/<[^>]*>/).filter(Boolean), newParts = text.split(/<[^>]*>/).filter(Boolean);
    const nodes = [];
    const walker = document.createTreeWalker(drawn, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeValue.replace(/\u200b/g, "")) nodes.push(node);  // plotly's zero-width baseline resets
    }
    if (nodes.length !== oldParts.length || newParts.length !== oldParts.length ||
        nodes.some((node, i) => node.nodeValue !== oldParts[i])) return false;
    nodes.forEach((node, i) => { node.nodeValue = newParts[i]; });
    gd.layout.title.text = title.text = text;
    return true;
  }

  /* What a dragged slider repaints with: paint(value) (which may return a promise) for the
   * newest value shown, at most once per animation frame. With atOnce, the first value of a
   * frame is painted at once (waiting for the next frame cost a pointer move ~10 ms on
   * average); later ones, or all without it, wait for the next frame, where only the newest
   * is painted; none while a paint is still drawing. */
  function framePainter(paint, label, atOnce) {
    let wanted = null, busy = false, scheduled = false, paintedThisFrame = false;
    function flush() {
      scheduled = false;
      if (busy || wanted === null) return;
      const value = wanted;
      wanted = null;
      busy = true;
      if (atOnce && !paintedThisFrame) {  // the frame's one paint: the next waits for its end
        paintedThisFrame = true;
        window.requestAnimationFrame(() => { paintedThisFrame = false; });
      }
      let drawn;
      try {
        drawn = Promise.resolve(paint(value));
      } catch (error) {
        drawn = Promise.reject(error);
      }
      drawn.catch((error) => console.error(label, error)).finally(() => {
        busy = false;
        if (wanted !== null) schedule();
      });
    }
    function schedule() {
      if (!scheduled) { scheduled = true; window.requestAnimationFrame(flush); }
    }
    return {
      show(value) {
        wanted = value;
        if (!atOnce || paintedThisFrame || busy) schedule();
        else flush();
      },
      get busy() { return busy; },
    };
  }

  window.polyvizDirectDraw = { directRestyle: directRestyle, directRetitle: directRetitle, typedArray: typedArray,
                               framePainter: framePainter };
})();
