// Builds the browser assets into static/dist/ (git-ignored):
//   task-form.js, questionnaire.js, diagram.js, migration-run.js   ESM bundles (+ .map), load with <script type="module">
//   app.css                                       our stylesheet (assets/app.css)
//   form-js.css                                   @bpmn-io/form-js-viewer
//   diagram-js.css, bpmn-js.css                   bpmn-js
//   bpmn-font/css/bpmn.css, bpmn-font/font/*      bpmn-js icon font (the CSS refers to ../font/)
//   template-editor.js, chunks/*.js              the template editors' page script; it loads only the editor of
//                                                 its page (bpmn-js Modeler + properties panel, dmn-js, the
//                                                 form-js editor or the manifest's forms), split into chunks
//   template-editor-{bpmn,dmn,form,manifest}.css         each editor's stylesheet; the fonts they refer to are copied
//                                                 to editor-fonts/
//
//   npm ci && npm run build          one build
//   node build.mjs --watch           rebuild on change (development)

import { cp, mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, 'static', 'dist');
const require = createRequire(import.meta.url);
const watch = process.argv.includes('--watch');

/** A file inside an installed package (resolved from its package.json, not its exports map). */
function packageFile(name, file) {
  return path.join(path.dirname(require.resolve(`${name}/package.json`)), file);
}

function packageDir(name) {
  return path.dirname(require.resolve(`${name}/package.json`));
}

const bpmnJs = packageDir('bpmn-js');

const scripts = {
  entryPoints: ['task-form', 'questionnaire', 'diagram', 'migration-run', 'copy-links', 'confirm'].map((name) => ({
    in: path.join(here, 'assets', `${name}.js`),
    out: name,
  })),
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: 'external',
  legalComments: 'eof',
  charset: 'utf8',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'info',
};

// Each editor's page loads one stylesheet: the library stylesheets that editor needs, then ours — a BPMN
// page does not download the DMN and form editors' styles, and the other way round.
const ours = path.join(here, 'assets', 'template-editor.css');
const propertiesPanelCss = packageFile('@bpmn-io/properties-panel', 'dist/assets/properties-panel.css');
const editorStylesheets = {
  bpmn: [
    path.join(bpmnJs, 'dist/assets/diagram-js.css'),
    path.join(bpmnJs, 'dist/assets/bpmn-js.css'),
    path.join(bpmnJs, 'dist/assets/bpmn-font/css/bpmn.css'),
    propertiesPanelCss,
    ours,
  ],
  dmn: [
    packageFile('dmn-js', 'dist/assets/diagram-js.css'),
    packageFile('dmn-js', 'dist/assets/dmn-js-shared.css'),
    packageFile('dmn-js', 'dist/assets/dmn-js-drd.css'),
    packageFile('dmn-js', 'dist/assets/dmn-js-decision-table.css'),
    packageFile('dmn-js', 'dist/assets/dmn-js-decision-table-controls.css'),
    packageFile('dmn-js', 'dist/assets/dmn-js-literal-expression.css'),
    packageFile('dmn-js', 'dist/assets/dmn-js-boxed-expression.css'),
    packageFile('dmn-js', 'dist/assets/dmn-js-boxed-expression-controls.css'),
    packageFile('dmn-js', 'dist/assets/dmn-font/css/dmn-embedded.css'),
    ours,
  ],
  form: [
    packageFile('@bpmn-io/form-js-viewer', 'dist/assets/form-js.css'),
    packageFile('@bpmn-io/form-js-editor', 'dist/assets/form-js-editor.css'),
    packageFile('@bpmn-io/form-js-editor', 'dist/assets/draggle.css'),
    propertiesPanelCss,
    ours,
  ],
  manifest: [ours], // our own forms: no library stylesheet
};

// form-js-editor pins preact <= 10.15.1 (npm nests that copy under it) while form-js-viewer takes the
// hoisted newer one; the editor renders the viewer's components, and two preact copies break hooks.
// In the editors' bundle both resolve to the editor's copy — the pair form-js releases together.
const formJsEditor = packageDir('@bpmn-io/form-js-editor');
const onePreactForFormJs = {
  name: 'one-preact-for-form-js',
  setup(build) {
    build.onResolve({ filter: /^preact(\/.*)?$/ }, (args) => {
      if (args.pluginData === 'one-preact' || !/[\\/]@bpmn-io[\\/]form-js-(editor|viewer)[\\/]/.test(args.importer)) {
        return undefined;
      }
      return build.resolve(args.path, { kind: args.kind, resolveDir: formJsEditor, pluginData: 'one-preact' });
    });
  },
};

// The editors' page script is small; it imports the one editor its page shows (bpmn-js Modeler, dmn-js or the
// form-js editor), which esbuild splits into chunks of their own under chunks/.
const editorScript = {
  ...scripts,
  entryPoints: [{ in: path.join(here, 'assets', 'template-editor.js'), out: 'template-editor' }],
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [onePreactForFormJs],
};

const editorStyles = Object.entries(editorStylesheets).map(([kind, files]) => ({
  stdin: {
    contents: files.map((file) => `@import ${JSON.stringify(file)};`).join('\n'),
    resolveDir: here,
    loader: 'css',
  },
  outfile: path.join(outdir, `template-editor-${kind}.css`),
  bundle: true,
  minify: true,
  target: ['chrome90', 'firefox90', 'safari14'],
  legalComments: 'eof',
  charset: 'utf8',
  loader: { '.eot': 'file', '.svg': 'file', '.ttf': 'file', '.woff': 'file', '.woff2': 'file' },
  assetNames: 'editor-fonts/[name]-[hash]',
  logLevel: 'info',
}));

const styles = {
  entryPoints: [
    { in: path.join(here, 'assets', 'app.css'), out: 'app' },
    { in: packageFile('@bpmn-io/form-js-viewer', 'dist/assets/form-js.css'), out: 'form-js' },
    { in: path.join(bpmnJs, 'dist/assets/diagram-js.css'), out: 'diagram-js' },
    { in: path.join(bpmnJs, 'dist/assets/bpmn-js.css'), out: 'bpmn-js' },
  ],
  outdir,
  bundle: true,
  minify: true,
  target: ['chrome90', 'firefox90', 'safari14'],
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'info',
};

async function copyBpmnFont() {
  const source = path.join(bpmnJs, 'dist/assets/bpmn-font');
  const target = path.join(outdir, 'bpmn-font');
  await mkdir(path.join(target, 'css'), { recursive: true });
  await cp(path.join(source, 'css', 'bpmn.css'), path.join(target, 'css', 'bpmn.css'));
  await cp(path.join(source, 'font'), path.join(target, 'font'), { recursive: true });
}

// Swagger UI for the REST API's interactive docs (/api/v1/docs), served from here: no CDN.
async function copySwaggerUi() {
  const source = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const target = path.join(outdir, 'swagger-ui');
  await mkdir(target, { recursive: true });
  for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js']) {
    await cp(path.join(source, file), path.join(target, file));
  }
}

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await copyBpmnFont();
await copySwaggerUi();

if (watch) {
  const contexts = await Promise.all([scripts, styles, editorScript, ...editorStyles].map((o) => esbuild.context(o)));
  await Promise.all(contexts.map((context) => context.watch()));
  console.log(`watching; output in ${path.relative(process.cwd(), outdir) || '.'}`);
} else {
  await Promise.all([scripts, styles, editorScript, ...editorStyles].map((o) => esbuild.build(o)));
}
