/**
 * The Redis password and the internal-call secret of a data dir: generated on first start
 * and kept beside the data, so a restart finds Redis with the password it was given before.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface Secrets {
  password: string;
  internalSecret: string;
}

const FILE = 'secrets.json';

function generate(): string {
  // Hex only: safe unquoted in redis.conf, URLs, env files and shell.
  return randomBytes(24).toString('hex');
}

function readStored(file: string): Partial<Secrets> {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return {};
    const o = parsed as Record<string, unknown>;
    return {
      ...(typeof o.password === 'string' ? { password: o.password } : {}),
      ...(typeof o.internalSecret === 'string' ? { internalSecret: o.internalSecret } : {}),
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The secrets a data dir holds, or undefined when it holds none (never made here: for tools that only read). */
export function storedSecrets(dataDir: string): Secrets | undefined {
  const stored = readStored(path.join(dataDir, FILE));
  return stored.password !== undefined && stored.internalSecret !== undefined ? { password: stored.password, internalSecret: stored.internalSecret } : undefined;
}

/** Given values win and are stored; missing ones come from the data dir or are made now. */
export function loadSecrets(dataDir: string, given: Partial<Secrets> = {}): Secrets {
  const file = path.join(dataDir, FILE);
  const stored = readStored(file);
  const secrets: Secrets = {
    password: given.password ?? stored.password ?? generate(),
    internalSecret: given.internalSecret ?? stored.internalSecret ?? generate(),
  };
  if (secrets.password !== stored.password || secrets.internalSecret !== stored.internalSecret) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  }
  return secrets;
}
