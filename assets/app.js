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
  // the text is within a screen of the viewport, so MathJax (a large script) loads only for
  // text a visitor scrolls to, never before a page's first figure.
  var LAZY_MATH = "lazy-math";
  var seen = typeof WeakSet === "function" ? new WeakSet() : null;
  var near = typeof IntersectionObserver === "function" ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      near.unobserve(entry.target);
      var setProps = window.dash_clientside && window.dash_clientside.set_props;
      if (setProps && entry.target.id) setProps(entry.target.id, { mathjax: true });
    });
  }, { rootMargin: "100% 0px" }) : null;
  function watchLazyMath() {
    var boxes = document.getElementsByClassName(LAZY_MATH);
    for (var i = 0; i < boxes.length; i++) {
      if (!near || !seen) {  // an old browser: typeset at once
        if (window.dash_clientside && window.dash_clientside.set_props && boxes[i].id) {
          window.dash_clientside.set_props(boxes[i].id, { mathjax: true });
        }
      } else if (!seen.has(boxes[i])) {
        seen.add(boxes[i]);
        near.observe(boxes[i]);
      }
    }
  }
  new MutationObserver(watchLazyMath).observe(document.documentElement, { childList: true, subtree: true });
})();
