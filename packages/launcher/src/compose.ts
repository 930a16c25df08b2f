/**
 * Writes the generated deploy/ files from the topology: the one-shard variant
 * (docker-compose.yml, nginx.conf, Redis/Sentinel configs, monitoring, k8s base and
 * overlays) and the sharded one (docker-compose.sharded.yml, redis/sentinel.sharded.conf,
 * the k8s `*-sharded` overlays), with SHARDED shards per service unless `--shards N` says
 * otherwise. `--check` writes nothing and exits 1 when any is stale.
 *
 *   npx tsx --conditions=source packages/launcher/src/compose.ts [--shards N] [--check]
 */
import fs from 'node:fs';
import path from 'node:path';
import { deployFiles, SHARDED } from './compose-spec.js';
import { repoRoot } from './entry.js';
import { k8sFiles } from './k8s-spec.js';
import { MAX_SHARDS } from './topology.js';

function main(argv: string[]): number {
  const at = argv.indexOf('--shards');
  const shards = at >= 0 ? Number(argv[at + 1]) : SHARDED;
  if (!Number.isInteger(shards) || shards < 2 || shards > MAX_SHARDS) {
    process.stderr.write(`--shards: the sharded variant needs a whole number in 2..${MAX_SHARDS}, got ${argv[at + 1] ?? 'nothing'}\n`);
    return 2;
  }
  const check = argv.includes('--check');
  const root = repoRoot();
  let stale = 0;
  for (const f of [...deployFiles(shards), ...k8sFiles(root, shards)]) {
    const file = path.join(root, f.path);
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (current === f.content) continue;
    stale++;
    if (check) {
      process.stderr.write(`${f.path} is stale: run npx tsx --conditions=source packages/launcher/src/compose.ts${shards === SHARDED ? '' : ` --shards ${shards}`}\n`);
    } else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, f.content);
      process.stdout.write(`wrote ${f.path}\n`);
    }
  }
  if (stale === 0) process.stdout.write(`deploy/ is up to date (sharded variant: ${shards} shards)\n`);
  return check && stale > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
