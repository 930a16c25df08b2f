import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander, Redis } from 'ioredis';
import { Batcher } from './batcher.js';
import { isTransient, type DurableWriter } from './redis.js';

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

/**
 * A script whose calls made in the same event-loop turn travel as one pipeline and are
 * confirmed by one WAIT: one socket write and one read for the whole turn instead of one
 * per call. An unknown outcome (a transient error of any call, or no acknowledgement)
 * replays the whole batch, so the script must be idempotent; any other error fails only
 * the call it belongs to.
 */
export function batchedScript<In, Out>(
  redis: Redis,
  writer: DurableWriter,
  name: string,
  encode: (input: In) => { keys: readonly string[]; args: readonly (string | number)[] },
): (input: In) => Promise<Out> {
  type Settled = { ok: true; value: Out } | { ok: false; error: Error };
  const batcher = new Batcher<In, Settled>((inputs) =>
    writer.idempotent(async () => {
      const pipeline = redis.pipeline();
      for (const input of inputs) {
        const { keys, args } = encode(input);
        callScript<ChainableCommander>(pipeline, name, keys, args);
      }
      const replies = (await pipeline.exec()) ?? [];
      const unknown = replies.find(([err]) => err !== null && isTransient(err))?.[0];
      if (unknown) throw unknown;
      return replies.map(([err, reply]): Settled => (err ? { ok: false, error: err } : { ok: true, value: reply as Out }));
    }),
  );
  return async (input) => {
    const settled = await batcher.call(input);
    if (!settled.ok) throw settled.error;
    return settled.value;
  };
}

/** Runs a pipeline; the first command error fails the whole of it. */
export async function execOrThrow(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}
