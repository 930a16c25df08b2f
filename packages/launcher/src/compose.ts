/**
 * Writes the generated deploy/ files (docker-compose.yml, nginx.conf, Redis/Sentinel
 * configs) from the topology. `--check` writes nothing and exits 1 when any is stale.
 *
 *   npx tsx --conditions=source packages/launcher/src/compose.ts [--check]
 *   npx tsx --conditions=source packages/launcher/src/compose.ts --shards N   (prints that variant's compose file)
 */
import fs from 'node:fs';
import path from 'node:path';
import { deployFiles } from './compose-spec.js';
import { repoRoot } from './entry.js';
import { k8sFiles } from './k8s-spec.js';

/** The compose file of a variant with N Redis groups per service, on stdout: deploy/ keeps the one-shard files. */
function printSharded(raw: string | undefined): number {
  const shards = Number(raw);
  if (!Number.isInteger(shards) || shards < 1) {
    process.stderr.write(`--shards needs a whole number, got ${raw ?? 'nothing'}\n`);
    return 2;
  }
  const compose = deployFiles(shards).find((f) => f.path === 'deploy/docker-compose.yml');
  process.stdout.write(compose?.content ?? '');
  return 0;
}

function main(argv: string[]): number {
  const at = argv.indexOf('--shards');
  if (at >= 0) return printSharded(argv[at + 1]);
  const check = argv.includes('--check');
  const root = repoRoot();
  let stale = 0;
  for (const f of [...deployFiles(), ...k8sFiles(root)]) {
    const file = path.join(root, f.path);
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (current === f.content) continue;
    stale++;
    if (check) {
      process.stderr.write(`${f.path} is stale: run npx tsx --conditions=source packages/launcher/src/compose.ts\n`);
    } else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, f.content);
      process.stdout.write(`wrote ${f.path}\n`);
    }
  }
  if (stale === 0) process.stdout.write('deploy/ is up to date\n');
  return check && stale > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
