// The trace types polyviz's figures use (services/plotly_bundle.py reads TRACES from here).
var Plotly = require('plotly.js/lib/core');
Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/contour'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/histogram'),
    require('plotly.js/lib/mesh3d'),
    require('plotly.js/lib/scatter3d'),
    require('plotly.js/lib/scattergl'),
    require('plotly.js/lib/surface')
]);
module.exports = Plotly;
