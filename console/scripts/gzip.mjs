// Writes a .gz sibling (zlib level 9) next to index.html and every asset of the built console, so
// the controller can answer them to clients that accept gzip without compressing per request.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, constants } from 'node:zlib';

const root = new URL('../target/classes/io/edgefleet/console/', import.meta.url).pathname;
const compressible = /\.(html|js|css|svg|json|txt|map)$/;

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

let raw = 0;
let gzipped = 0;
for (const file of walk(root)) {
  if (!compressible.test(file)) continue;
  const bytes = readFileSync(file);
  const gz = gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(`${file}.gz`, gz);
  raw += bytes.length;
  gzipped += gz.length;
}
console.log(`console: ${raw} bytes, ${gzipped} bytes gzipped (index.html and assets)`);
