/**
 * Finds redis-server, redis-sentinel and nginx, and installs them with apt-get when that is
 * possible (root on a Debian-like system) and allowed.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Binaries } from './topology.js';

export const INSTALL_HINT = 'apt-get install redis-server redis-sentinel nginx-light';
const APT_PACKAGES = ['redis-server', 'redis-sentinel', 'nginx-light'];

// nginx lives in /usr/sbin, which a non-login or non-root PATH often lacks.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== ''), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export class MissingToolsError extends Error {
  override name = 'MissingToolsError';
}

function find(): { found: Partial<Binaries>; missing: string[] } {
  const names = { redisServer: 'redis-server', redisSentinel: 'redis-sentinel', nginx: 'nginx' } as const;
  const found: Partial<Binaries> = { node: process.execPath };
  const missing: string[] = [];
  for (const [key, name] of Object.entries(names) as [keyof typeof names, string][]) {
    const p = which(name);
    if (p === undefined) missing.push(name);
    else found[key] = p;
  }
  return { found, missing };
}

function complete(found: Partial<Binaries>): Binaries | undefined {
  const { redisServer, redisSentinel, nginx, node } = found;
  if (redisServer && redisSentinel && nginx && node) return { redisServer, redisSentinel, nginx, node };
  return undefined;
}

/**
 * Resolves the binaries. With `install`, a root user on a system with apt-get gets them
 * installed; otherwise the error says what to install.
 */
export function resolveBinaries(opts: { install: boolean; log: (line: string) => void }): Binaries {
  let { found, missing } = find();
  const ready = complete(found);
  if (ready) return ready;
  const canInstall = opts.install && process.getuid?.() === 0 && which('apt-get') !== undefined;
  if (!canInstall) {
    throw new MissingToolsError(`missing ${missing.join(', ')}; install them with: ${INSTALL_HINT}`);
  }
  opts.log(`missing ${missing.join(', ')}; running as root with apt-get, so installing: ${INSTALL_HINT}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...APT_PACKAGES]]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.status !== 0) throw new MissingToolsError(`apt-get ${args.join(' ')} failed; install by hand: ${INSTALL_HINT}`);
  }
  ({ found, missing } = find());
  const installed = complete(found);
  if (!installed) throw new MissingToolsError(`still missing ${missing.join(', ')} after apt-get; install by hand: ${INSTALL_HINT}`);
  return installed;
}
