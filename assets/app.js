/* Clientside helpers every page uses. Each assets/*.js file adds its functions to
 * window.dash_clientside.polyviz without replacing what another file put there. */
(function () {
  "use strict";
  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.polyviz = Object.assign({}, window.dash_clientside.polyviz, {
    // Write the page's canonical query into the address bar without reloading the page
    // (a Dash Pages URL change would re-run the layout and rebuild every control).
    replaceQuery: function (query) {
      if (typeof query === "string") {
        window.history.replaceState(window.history.state, "", window.location.pathname + "?" + query);
      }
      return query;
    },
    currentHref: function () {
      return window.location.href;
    },
  });

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
  // Once per id: Dash re-renders the box when its mathjax turns on, and turning it on again
  // for the new node re-rendered it while MathJax measured the old one ("NaNex" errors).
  var typesetIds = {};
  var typesetPath = window.location.pathname;
  function typeset(box) {
    if (window.location.pathname !== typesetPath) {  // another page: its boxes are new
      typesetIds = {};
      typesetPath = window.location.pathname;
    }
    var setProps = window.dash_clientside && window.dash_clientside.set_props;
    if (!setProps || !box.id || typesetIds[box.id] || !box.isConnected) return;
    typesetIds[box.id] = true;
    setProps(box.id, { mathjax: true });
  }
  function watchLazyMath() {
    var boxes = document.getElementsByClassName(LAZY_MATH);
    for (var i = 0; i < boxes.length; i++) {
      if (!near || !seen) {  // an old browser: typeset at once
        typeset(boxes[i]);
      } else if (!seen.has(boxes[i]) && !(typesetPath === window.location.pathname && typesetIds[boxes[i].id])) {
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
