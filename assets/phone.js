/* The navbar's current page, and the controls as a bottom sheet on a phone.
 *
 * markCurrentPage: a clientside callback (app.py) giving the navbar link of the page you are
 * on the class "active" (and aria-current="page" for screen readers).
 *
 * On a narrow screen (style.css, max-width 700px) every page's controls (.sidebar) sit under
 * the figures as a sheet pinned to the bottom of the screen, so the figure a slider acts on
 * stays in view while it moves. A button at the sheet's top folds it down to that button
 * and opens it again; it is added here to every .sidebar Dash renders. */
(function () {
  "use strict";
  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.polyviz = Object.assign({}, window.dash_clientside.polyviz, {
    markCurrentPage: function (pathname, paths) {
      var here = (pathname || "/").replace(/\/+$/, "") || "/";
      return (paths || []).map(function (path) {
        var link = document.getElementById("nav" + path.replace(/\//g, "-"));
        var current = here === path;
        if (link) {
          if (current) { link.setAttribute("aria-current", "page"); } else { link.removeAttribute("aria-current"); }
        }
        return current ? "nav-link active" : "nav-link";
      });
    },
  });

  function addSheetToggle(sidebar) {
    if (sidebar.querySelector(":scope > .sheet-toggle")) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sheet-toggle";
    button.setAttribute("aria-expanded", "true");
    button.textContent = "Controls ▾";
    button.addEventListener("click", function () {
      var folded = sidebar.classList.toggle("folded");
      button.setAttribute("aria-expanded", folded ? "false" : "true");
      button.textContent = folded ? "Controls ▴" : "Controls ▾";
    });
    sidebar.insertBefore(button, sidebar.firstChild);
  }

  function scan() {
    document.querySelectorAll(".page.two-col > .sidebar").forEach(addSheetToggle);
  }

  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", scan);
})();
