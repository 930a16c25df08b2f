import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander, Redis } from 'ioredis';

/** The repository root, found from this file whether it runs from source or from dist/. */
export const REPO_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!readdirSync(dir).includes('package.json')) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + import.meta.url);
    dir = parent;
  }
  return dir;
})();

const INCLUDES_DIR = path.join(REPO_ROOT, 'packages/common/lua/includes');
const INCLUDE = /^-- @include "([a-z_]+)"$/gm;

/** A script's source with its `-- @include "name"` lines replaced by the included files. */
export function loadLua(file: string): string {
  const source = readFileSync(file, 'utf8');
  return source.replace(INCLUDE, (_line, name: string) => readFileSync(path.join(INCLUDES_DIR, `${name}.lua`), 'utf8'));
}

/**
 * Registers scripts as ioredis commands. ioredis sends EVALSHA and falls back to EVAL on
 * NOSCRIPT, so an empty script cache after a restart or failover costs one round trip.
 * The version in the command name keeps two deployed versions of a script apart.
 */
export function defineScripts(redis: Redis, dir: string, names: readonly string[], version = 1): void {
  for (const name of names) {
    redis.defineCommand(`${name}_v${version}`, { lua: loadLua(path.join(dir, `${name}.lua`)) });
  }
}

export function luaDir(pkg: 'common' | 'order', sub = ''): string {
  return path.join(REPO_ROOT, 'packages', pkg, 'lua', sub);
}

type ScriptCall = (numKeys: number, ...keysAndArgs: (string | number)[]) => unknown;

/** Calls a script registered by `defineScripts` on a client or inside a pipeline. */
export function callScript<R>(
  target: Redis | ChainableCommander,
  name: string,
  keys: readonly string[],
  args: readonly (string | number)[],
  version = 1,
): R {
  const fn = (target as unknown as Record<string, ScriptCall>)[`${name}_v${version}`];
  if (typeof fn !== 'function') throw new Error(`script ${name} is not defined on this connection`);
  return fn.call(target, keys.length, ...keys, ...args) as R;
}
