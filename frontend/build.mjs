// Build the vendored bundles into app/static/vendor/ (committed; the portal needs no Node at run time).
// Usage: npm ci && npm run build
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, '..', 'app', 'static', 'vendor');
const pkgdir = (name) => join(here, 'node_modules', name);
const version = (name) => JSON.parse(readFileSync(join(pkgdir(name), 'package.json'), 'utf8')).version;

const bundles = {
  'bpmn-viewer': 'PortalBpmnViewer',
  'bpmn-modeler': 'PortalBpmnModeler',
  'dmn-modeler': 'PortalDmnModeler'
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

for (const [name, globalName] of Object.entries(bundles)) {
  await build({
    entryPoints: { [name]: join(here, 'src', `${name}.js`) },
    outdir,
    bundle: true,
    format: 'iife',
    globalName,
    minify: true,
    target: ['es2020'],
    legalComments: 'eof',
    // The fonts referenced by the CSS are copied next to the bundle, so no data: URLs are needed.
    assetNames: 'fonts/[name]',
    loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
    // One preact for the properties panel and the element templates (preact-markup asks for any preact >= 10).
    alias: { preact: '@bpmn-io/properties-panel/preact' },
    define: {
      'process.env.NODE_ENV': '"production"',
      BPMN_JS_VERSION: JSON.stringify(version('bpmn-js')),
      PROPERTIES_PANEL_VERSION: JSON.stringify(version('bpmn-js-properties-panel')),
      ELEMENT_TEMPLATES_VERSION: JSON.stringify(version('bpmn-js-element-templates')),
      CREATE_APPEND_VERSION: JSON.stringify(version('bpmn-js-create-append-anything')),
      TEMPLATE_CHOOSER_VERSION: JSON.stringify(version('@bpmn-io/element-template-chooser')),
      DMN_JS_VERSION: JSON.stringify(version('dmn-js'))
    },
    logLevel: 'warning'
  });
}

// Chart.js ships a minified UMD build (window.Chart); copy it without its source-map reference.
const chart = readFileSync(join(pkgdir('chart.js'), 'dist', 'chart.umd.js'), 'utf8')
  .replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
writeFileSync(join(outdir, 'chart.umd.js'), chart);

// The licences of what we ship.
const licences = {
  'bpmn-js': 'LICENSE', 'dmn-js': 'LICENSE', 'bpmn-js-properties-panel': 'LICENSE',
  'bpmn-js-element-templates': 'LICENSE', 'bpmn-js-create-append-anything': 'LICENSE',
  '@bpmn-io/element-template-chooser': 'LICENSE', 'chart.js': 'LICENSE.md'
};
mkdirSync(join(outdir, 'licenses'), { recursive: true });
for (const [pkg, file] of Object.entries(licences)) {
  copyFileSync(join(pkgdir(pkg), file), join(outdir, 'licenses', `${pkg.replace('@bpmn-io/', 'bpmn-io-')}.txt`));
}

for (const file of readdirSync(outdir, { recursive: true }).sort()) {
  const stat = statSync(join(outdir, file));
  if (stat.isFile()) console.log(`${String(Math.round(stat.size / 1024)).padStart(6)} KiB  vendor/${file}`);
}
