/* Toy classifiers page (layouts/train.py).
 *
 * Plotly rejects the promise of an animation that another animation interrupts (the ❚❚
 * button, or a slider step while ▶ plays) with no reason, and nothing catches it, so the
 * browser reports "Uncaught (in promise)" although nothing went wrong. Such rejections
 * carry no information: drop them while Plotly graphs are on the page. */
(function () {
  "use strict";
  window.addEventListener("unhandledrejection", function (event) {
    if (event.reason === undefined && document.querySelector(".js-plotly-plot")) {
      event.preventDefault();
    }
  });
})();
