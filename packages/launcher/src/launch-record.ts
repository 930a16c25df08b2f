/**
 * What `npm start` was started with, kept in the data dir's run/ folder while it runs, so that
 * tools run from the same checkout (npm run snapshot) find the system without being told its
 * ports and shard count again.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Layout } from './topology.js';

export interface LaunchRecord {
  layout: Layout;
  replicas: number;
  shards: number;
  gatewayPort: number;
  basePort: number;
}

const FILE = 'launch.json';

export function writeLaunchRecord(runDir: string, record: LaunchRecord): void {
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, FILE), `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

/** The record of the launcher that runs (or last ran) on this data dir, or undefined. */
export function readLaunchRecord(runDir: string): LaunchRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, FILE), 'utf8')) as LaunchRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
