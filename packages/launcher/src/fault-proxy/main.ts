/**
 * The fault proxy as its own process (`node main.js <config.json>`), started by the launcher
 * when a cluster asks for it. A process of its own, not a part of the test: the links must
 * keep their timing while the test process is busy generating load.
 *
 * The config file: `{ "control": { "host", "port" }, "links": [{ "name", "listen", "target" }] }`.
 */
import fs from 'node:fs';
import { serveControl } from './control.js';
import { FaultProxy, type FaultProxyConfig } from './proxy.js';

const file = process.argv[2];
if (file === undefined) {
  console.error('usage: fault-proxy <config.json>');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(file, 'utf8')) as FaultProxyConfig;
const proxy = new FaultProxy(config.links);
await proxy.start();
const control = await serveControl(proxy, config.control);
console.log(`fault proxy: ${config.links.length} links, control on http://${config.control.host}:${config.control.port}`);

const stop = (): void => {
  control.close();
  control.closeAllConnections();
  proxy.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
