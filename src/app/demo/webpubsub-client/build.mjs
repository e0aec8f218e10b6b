// Builds the demo page's browser bundle of the official @azure/web-pubsub-client, which ships no
// prebuilt one: esbuild (pinned in package.json, every dependency pinned in package-lock.json)
// bundles index.mjs for browsers, minified, as an IIFE that sets `window.WebPubSubClientBundle`,
// and the licence file lists every npm package that went into it with its licence text.
//
//   npm ci && node build.mjs [out-dir]      (out-dir defaults to .., the demo's files)
//
// The output depends only on the pinned packages, so tests/suite/browser.rs rebuilds it and checks
// that the checked-in files are byte-identical: they are never edited by hand.
import { build } from "esbuild";
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, ".."));
const pkg = (dir) => JSON.parse(readFileSync(join(here, dir, "package.json"), "utf8"));
const client = pkg("node_modules/@azure/web-pubsub-client");
const esbuild = pkg("node_modules/esbuild");

const result = await build({
  absWorkingDir: here,
  entryPoints: ["index.mjs"],
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "WebPubSubClientBundle",
  platform: "browser",
  target: "es2020",
  charset: "utf8",
  legalComments: "none",
  metafile: true,
  write: false,
  logLevel: "warning",
  banner: {
    js: `/*! ${client.name} ${client.version} for browsers, bundled by esbuild ${esbuild.version}; licences in webpubsub-client.LICENSE.txt */`,
  },
});

// The npm packages the bundle holds: the innermost node_modules/<name> of every input file.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (!match) continue;
  const dir = match[1];
  const meta = pkg(dir);
  packages.set(`${meta.name}@${meta.version}`, { dir, meta });
}

const licenceFile = (dir) => {
  const name = readdirSync(join(here, dir)).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  if (!name) throw new Error(`${dir} has no LICENSE file; add its licence text by hand to build.mjs`);
  return readFileSync(join(here, dir, name), "utf8").trim();
};

const sections = [...packages.keys()].sort().map((key) => {
  const { dir, meta } = packages.get(key);
  return `== ${meta.name} ${meta.version} (${meta.license}) ==\n\n${licenceFile(dir)}\n`;
});
const licences = [
  "webpubsub-client.min.js: the official Azure Web PubSub client for browsers, built by",
  "src/app/demo/webpubsub-client/build.mjs with esbuild from these npm packages (exact versions",
  "in package-lock.json there), each under its own licence:",
  "",
  ...[...packages.keys()].sort().map((key) => `  ${key} (${packages.get(key).meta.license})`),
  "",
  ...sections,
].join("\n");

mkdirSync(out, { recursive: true });
writeFileSync(join(out, "webpubsub-client.min.js"), result.outputFiles[0].contents);
writeFileSync(join(out, "webpubsub-client.LICENSE.txt"), licences);
console.log(`wrote ${join(out, "webpubsub-client.min.js")} (${result.outputFiles[0].contents.length} bytes) from ${packages.size} packages`);
