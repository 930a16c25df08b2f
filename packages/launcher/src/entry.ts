/**
 * Where the service programs and the repository are, seen from the running launcher code.
 * From dist/ it runs the built services (`<package>/dist/src/main.js`); from source (tsx) it
 * runs their TypeScript (`<package>/src/main.ts`), so a test always exercises the code it was
 * started from, never a stale build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICES, serviceMain } from './topology.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** This launcher's own form: 'ts' when it runs from source, 'js' when built. */
const ownExt: 'js' | 'ts' = import.meta.url.endsWith('.ts') ? 'ts' : 'js';

let root: string | undefined;

/** The repository root: the nearest package.json above this code that declares the workspaces. */
export function repoRoot(): string {
  if (root !== undefined) return root;
  for (let dir = here; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { workspaces?: unknown }).workspaces !== undefined) {
      return (root = dir);
    }
    if (path.dirname(dir) === dir) throw new Error('no package.json with workspaces above ' + here);
  }
}

export interface ServiceEntry {
  dir: string;
  ext: 'js' | 'ts';
}

function extIn(dir: string, order: readonly ('js' | 'ts')[]): 'js' | 'ts' | undefined {
  return order.find((ext) => SERVICES.every((s) => fs.existsSync(serviceMain(dir, s, ext))));
}

/**
 * The directory holding the service packages (`<service>/dist/src/main.js` or
 * `<service>/src/main.ts`): `override` (or SHOP_SERVICE_ENTRY_DIR), where built entries win,
 * else the packages directory beside this launcher's package, in the launcher's own form.
 * Undefined when the services are not there (yet).
 */
export function findServiceEntry(override = process.env.SHOP_SERVICE_ENTRY_DIR): ServiceEntry | undefined {
  const overridden = override !== undefined && override !== '';
  const dir = overridden ? path.resolve(override) : path.resolve(here, ownExt === 'ts' ? '../..' : '../../..');
  const ext = extIn(dir, overridden ? ['js', 'ts'] : [ownExt]);
  return ext === undefined ? undefined : { dir, ext };
}
