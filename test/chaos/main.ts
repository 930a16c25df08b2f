/** `npm run chaos`: one chaos run; exits 0 only when it found no violation. */
import { USAGE, parseOptions } from './options.js';
import { runChaos } from './run.js';

let parsed;
try {
  parsed = parseOptions(process.argv.slice(2));
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (parsed === 'help') {
  console.log(USAGE);
  process.exit(0);
}
const options = parsed;

const abort = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => {
  // The run still continues every paused process and stops the cluster before exiting.
  console.error(abort.signal.aborted ? 'still stopping the cluster…' : 'interrupted: stopping the load, the faults and the cluster');
  abort.abort();
});

try {
  const report = await runChaos(options, { signal: abort.signal });
  process.exitCode = report.ok ? 0 : 1;
} catch (err) {
  console.error(`chaos run failed (seed ${options.seed}): ${(err as Error).stack ?? String(err)}`);
  process.exitCode = abort.signal.aborted ? 130 : 1;
}
