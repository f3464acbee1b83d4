/** `npm run bench [name...]`: runs benchmarks, prints JSON results, writes bench/results/<name>.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/paths.js';

const BENCHES: Record<string, () => Promise<{ run(): Promise<Record<string, unknown>> }>> = {
  'cluster-start': () => import('./cluster-start.js'),
  startup: () => import('./startup.js'),
  jobs: () => import('./jobs.js'),
  soak: () => import('./soak.js'),
  'watched-jobs': () => import('./watched-jobs.js'),
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(BENCHES);
for (const name of wanted) {
  const load = BENCHES[name];
  if (!load) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  const result = await (await load()).run();
  const dir = join(projectRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
