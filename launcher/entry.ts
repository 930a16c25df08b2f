/**
 * Where the service programs and the repository are, seen from the running launcher code.
 * From dist/ it runs the built services; from source (tsx) it runs their TypeScript, so a
 * test always exercises the code it was started from, never a stale build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../packages/common/src/lua.js';
import { SERVICES } from './topology.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root (the nearest package.json above the code), as the services find it. */
export function repoRoot(): string {
  return REPO_ROOT;
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
