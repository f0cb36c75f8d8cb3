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
})();
