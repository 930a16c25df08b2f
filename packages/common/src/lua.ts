import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander, Redis } from 'ioredis';

/**
 * A package's Lua scripts live in its `lua/` folder, beside `src/`; the build copies them to
 * `dist/lua/`, beside `dist/src/`. So `../lua/` from a module directly in `src/` (or in
 * `dist/src/`) names them from source and from the build alike, and a built package needs
 * nothing of the source tree.
 */
export function packageLuaDir(moduleUrl: string, sub = ''): string {
  return path.join(fileURLToPath(new URL('../lua/', moduleUrl)), sub);
}

const INCLUDES_DIR = packageLuaDir(import.meta.url, 'includes');
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

/** The folder of common's own scripts (`lua/<sub>`). */
export function luaDir(sub = ''): string {
  return packageLuaDir(import.meta.url, sub);
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
