/* The ▶ button of an animated figure (the layer-by-layer animations of /train and /compare)
 * plays its frames by moving the WebGL traces directly (assets/direct_draw.js).
 *
 * Plotly.animate redraws the whole figure for every frame of a 3-D figure (supplyDefaults,
 * calc, every trace, the scene's axes, its pick pass): about 90 ms a frame on a 2-core
 * machine where WebGL runs on the CPU, so 49 frames meant for 25 a second played at ~11.
 * Here a frame hands its points to the scene's objects and draws the canvas once. The
 * figure itself is unchanged (its exported HTML plays with Plotly's own ▶), and so is what
 * the page sees of an animation: the same frames in the same order, one due every frame
 * duration of the button (shown on the display's refreshes: see tick), `_currentFrame` and
 * "plotly_animatingframe" per frame (the slider follows them, as it follows Plotly's),
 * "plotly_animated" at the end.
 *
 * A frame that cannot be drawn directly (a trace appearing or disappearing, a trace type
 * direct_draw does not move) is drawn by Plotly.restyle. Figures whose frames change the
 * layout or build on a base frame, and buttons with a transition, a reverse direction or a
 * second state, are left to Plotly. ❚❚, a slider step, Plotly's own animation or a new
 * figure from the server stop the player; a resize does not. */
(function () {
  "use strict";

  // A frame's arrays arrive as Plotly's typed-array specs, decoded by Plotly only when it draws
  // the frame. null when the spec is not a flat array.
  function decode(value) {
    if (!value || typeof value !== "object" || typeof value.bdata !== "string") return value;
    return window.polyvizDirectDraw.typedArray(value);
  }

  const decodedFrames = new WeakMap();  // frame -> its traces' properties, decoded once

  function decodedData(frame) {
    let data = decodedFrames.get(frame);
    if (!data) {
      data = (frame.data || []).map((trace) => {
        const out = {};
        for (const key of Object.keys(trace)) out[key] = decode(trace[key]);
        return out;
      });
      decodedFrames.set(frame, data);
    }
    return data;
  }

  const ARRAYS = ["x", "y", "z"];

  /* One frame on screen. Traces hidden before and after only get their new values; the
   * others move directly when each changes only x, y, z (a trace appearing or disappearing
   * is Plotly's to draw, with its legend entry). */
  function showFrame(gd, frame) {
    const data = decodedData(frame);
    const traces = frame.traces || data.map((_, i) => i);
    const moving = [], update = { x: [], y: [], z: [], visible: [] };
    let direct = data.every((d) => ARRAYS.every((key) => d[key] !== null));
    for (let k = 0; k < data.length && direct; k++) {
      const index = traces[k], trace = data[k], full = gd._fullData[index];
      if (!full || !ARRAYS.every((key) => key in trace) ||
          Object.keys(trace).some((key) => !ARRAYS.includes(key) && key !== "visible" &&
                                           !(key === "type" && trace.type === full.type))) {
        direct = false;
        break;
      }
      if (full.visible !== true && trace.visible === false) {
        Object.assign(gd.data[index], trace);
        continue;
      }
      moving.push(index);
      for (const key of Object.keys(update)) update[key].push(trace[key]);
    }
    if (direct && (!moving.length || window.polyvizDirectDraw.directRestyle(gd, update, moving))) {
      return Promise.resolve();
    }
    // Plotly draws this frame: every property of every trace the frame names
    const restyle = {};
    data.forEach((trace, k) => {
      for (const key of Object.keys(trace)) {
        if (!restyle[key]) restyle[key] = data.map(() => undefined);
        restyle[key][k] = trace[key] === null ? frame.data[k][key] : trace[key];
      }
    });
    return window.Plotly.restyle(gd, restyle, traces);
  }

  /* Whether the player can stand in for Plotly.animate(gd, null, options): forwards, one frame
   * duration, no transition, frames of trace data alone (no layout, no base frame). */
  function playable(gd, options) {
    const frames = gd._transitionData && gd._transitionData._frames;
    const transition = options.transition, frame = options.frame;
    return Boolean(window.polyvizDirectDraw && window.Plotly && frames && frames.length && gd._fullData &&
      (!transition || (!Array.isArray(transition) && !transition.duration)) && !Array.isArray(frame) &&
      (!options.direction || options.direction === "forward") &&
      frames.every((f) => f && f.name !== undefined && Array.isArray(f.data) && f.baseframe === undefined &&
                          (!f.layout || !Object.keys(f.layout).length)));
  }

  const players = new WeakMap();  // gd -> the player now running on it
  const HALF_REFRESH_MS = 8;

  function stop(gd, interrupted) {
    const player = players.get(gd);
    if (!player) return;
    players.delete(gd);
    cancelAnimationFrame(player.raf);
    if (interrupted) gd.emit("plotly_animationinterrupted", []);
    gd.emit("plotly_animated");
  }

  function watch(gd) {
    if (gd.__polyvizPlayerWatch) return;
    gd.__polyvizPlayerWatch = true;
    // Plotly's own animation (a slider step) and a slider dragged by the user take over.
    gd.on("plotly_animating", () => stop(gd, true));
    gd.on("plotly_sliderchange", (event) => { if (event && event.interaction) stop(gd, true); });
  }

  function play(gd, options) {
    stop(gd, true);
    watch(gd);
    const frames = gd._transitionData._frames.slice();
    const current = frames.findIndex((f) => String(f.name) === gd._fullLayout._currentFrame);
    // As Plotly's fromcurrent: from the frame after the current one, or from the start.
    const start = options.fromcurrent && current > 0 && current < frames.length - 1 ? current + 1 : 0;
    const duration = options.frame && typeof options.frame.duration === "number" ? options.frame.duration : 500;
    const animation = { frame: options.frame || {}, transition: options.transition || {} };
    // Plotly.react (a new figure) replaces gd.data and the frames; a resize or a legend click
    // (relayout, restyle) keeps both, and the playback goes on.
    const player = { next: start, due: null, busy: false, data: gd.data, transitionData: gd._transitionData, raf: 0 };
    players.set(gd, player);

    function tick(now) {
      if (players.get(gd) !== player) return;
      player.raf = requestAnimationFrame(tick);
      now = now || performance.now();
      // Frame k is due `duration` after frame k-1 was due, not after it was shown: frames
      // appear on the display's refresh (every 16.7 ms at 60 Hz), so "at least 40 ms after
      // the last" would hold each one for three refreshes (50 ms, 20 frames/s). Due within
      // half a refresh counts as due: 40 ms frames alternate two and three refreshes, 25 a
      // second. A frame drawn late moves the schedule on instead of hurrying the next.
      if (player.due === null) player.due = now;
      if (player.busy || now < player.due - HALF_REFRESH_MS) return;
      player.due = Math.max(player.due + duration, now + duration - HALF_REFRESH_MS);
      // a new figure from the server (or the graph gone) ends the playback
      if (!gd.isConnected || gd.data !== player.data || gd._transitionData !== player.transitionData) {
        stop(gd, true);
        return;
      }
      if (player.next >= frames.length) { stop(gd, false); return; }
      const frame = frames[player.next++];
      const name = String(frame.name);
      gd._fullLayout._currentFrame = name;
      player.busy = true;
      // a frame that throws or fails ends the playback rather than leaving it waiting
      Promise.resolve().then(() => showFrame(gd, frame)).then(() => {
        player.busy = false;
        if (players.get(gd) !== player) return;  // stopped while Plotly drew the frame
        gd._fullLayout._currentFrame = name;
        gd.emit("plotly_animatingframe", { name: name, frame: frame, animation: animation });
      }, (error) => { player.busy = false; stop(gd, true); console.error("frame player", error); });
    }
    tick();
  }

  // Capture phase: the player answers a ▶ click before Plotly's own handler on the button.
  document.addEventListener("click", (event) => {
    const button = event.target && event.target.closest && event.target.closest(".updatemenu-button");
    const gd = button && button.closest(".js-plotly-plot");
    const options = button && button.__data__;  // d3 keeps each button's options on its element
    if (!gd || !options || options.method !== "animate" || options.execute === false) return;
    const args = options.args || [];
    if ((args[0] === null || args[0] === undefined) && !options.args2 && playable(gd, args[1] || {})) {
      event.stopPropagation();
      play(gd, args[1] || {});
    } else {
      stop(gd, true);  // ❚❚ or a jump: Plotly's handler runs it
    }
  }, true);

  window.polyvizFramePlayer = { play: play, stop: stop, playable: playable, playing: (gd) => players.has(gd) };
})();
