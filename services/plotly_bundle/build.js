// plotly.js's own esbuild settings (its esbuild-config.js), with our entry: the same code as
// its dist bundles, minus the trace types polyviz never draws.
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const version = require('plotly.js/package.json').version;

esbuild.build({
    entryPoints: ['./entry.js'],
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    legalComments: 'none',
    banner: { js: `/** plotly.js v${version} (partial: polyviz's trace types) | (c) Plotly, Inc. | MIT */` },
    plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    outfile: 'plotly-polyviz.min.js',
    logLevel: 'info'
}).catch(() => process.exit(1));
