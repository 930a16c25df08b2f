/**
 * Where the service programs and the repository are, seen from the running launcher code.
 * From dist/ it runs the built services; from source (tsx) it runs their TypeScript, so a
 * test always exercises the code it was started from, never a stale build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICES } from './topology.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The nearest directory above this module with a package.json: the repository root. */
export function repoRoot(): string {
  let dir = here;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${here}`);
    dir = up;
  }
  return dir;
}

export interface ServiceEntry {
  dir: string;
  ext: 'js' | 'ts';
}

function extIn(dir: string): 'js' | 'ts' | undefined {
  const has = (ext: string): boolean => SERVICES.every((s) => fs.existsSync(path.join(dir, s, 'src', `main.${ext}`)));
  if (has('js')) return 'js';
  if (has('ts')) return 'ts';
  return undefined;
}

/**
 * The directory holding `<service>/src/main.{js,ts}`: `override` (or SHOP_SERVICE_ENTRY_DIR),
 * else the packages directory beside this launcher (dist/packages when built). Undefined
 * when the services are not there (yet).
 */
export function findServiceEntry(override = process.env.SHOP_SERVICE_ENTRY_DIR): ServiceEntry | undefined {
  const dir = override !== undefined && override !== '' ? path.resolve(override) : path.resolve(here, '..', 'packages');
  const ext = extIn(dir);
  return ext === undefined ? undefined : { dir, ext };
}
