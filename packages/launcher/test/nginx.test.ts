import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../src/cluster.js';
import { nginxConfig } from '../src/nginx.js';
import { which } from '../src/prereqs.js';
import { ROUTES } from '../src/routes.js';
import { SERVICES } from '../src/topology.js';
import { testTopology } from './fixtures.js';

/** The text of the location block whose regex contains `fragment`. */
function locationBlock(conf: string, fragment: string): string {
  const start = conf.indexOf(`location ~ "^${fragment}`);
  assert.ok(start >= 0, `no location for ${fragment}`);
  return conf.slice(start, conf.indexOf('\n    }', start));
}

describe('nginx.conf generation', () => {
  const t = testTopology('ha', { replicas: 3 });
  const conf = nginxConfig(t);

  it('has one upstream per service with every replica public port and keepalive', () => {
    for (const s of SERVICES) {
      const start = conf.indexOf(`upstream ${s}_replicas {`);
      assert.ok(start >= 0, `upstream for ${s}`);
      const block = conf.slice(start, conf.indexOf('}', start));
      for (const r of t.services.filter((x) => x.service === s)) assert.ok(block.includes(`server 127.0.0.1:${r.publicPort} `));
      assert.match(block, /keepalive \d+;/);
    }
    assert.ok(conf.includes('proxy_http_version 1.1;'));
    assert.ok(conf.includes('proxy_set_header Connection "";'));
  });

  it('never routes to an internal port', () => {
    for (const r of t.services) assert.ok(!conf.includes(`:${r.internalPort}`), `${r.name} internal port in config`);
  });

  it('has a method-checked location per contract route, prefix stripped', () => {
    for (const r of ROUTES) {
      const prefix = { order: '/orders', stock: '/stock', payment: '/payment' }[r.service];
      const first = r.path.split('/')[1] ?? '';
      const block = locationBlock(conf, `${prefix}/${first}`);
      assert.ok(block.includes(`Allow "${r.method}"`), `${r.path} method check`);
      assert.ok(block.includes(`rewrite ^${prefix}(/.*)$ $1 break;`));
    }
    assert.equal(conf.match(/location ~ /g)?.length, ROUTES.length);
  });

  it('re-sends only checkout to another replica, and on 502 or 504 to a last resort of every order replica', () => {
    // The checkout location and its last resort.
    assert.equal(conf.match(/^\s*proxy_next_upstream .*non_idempotent/gm)?.length, 2);
    assert.match(conf, /error_page 502 504 = @order_last_resort;/);
    assert.doesNotMatch(locationBlock(conf, '/orders/checkout'), /error_page 50[24] \//, 'no JSON page for what the last resort takes');
    assert.match(conf, /upstream order_last_resort \{\n(\s*server \S+ max_fails=0;\n){2}/);
    assert.doesNotMatch(conf, /(stock|payment)_last_resort/);
    const checkout = locationBlock(conf, '/orders/checkout');
    assert.ok(checkout.includes('proxy_next_upstream error timeout http_502 http_503 non_idempotent;'));
    assert.match(checkout, /proxy_read_timeout (\d+)s;/);
    const secs = Number(/proxy_read_timeout (\d+)s;/.exec(checkout)?.[1]);
    assert.ok(secs >= 5 && secs <= 15, `checkout read timeout ${secs}`);
    assert.ok(!locationBlock(conf, '/payment/pay').includes('non_idempotent'));
  });

  it('has one active replica per upstream, the others standing by; a waiting call never marks a standby failed', () => {
    const servers = (name: string) => {
      const start = conf.indexOf(`upstream ${name} {`);
      assert.ok(start >= 0, `no upstream ${name}`);
      return conf
        .slice(start, conf.indexOf('}', start))
        .split('\n')
        .filter((l) => l.trim().startsWith('server '))
        .map((l) => l.trim());
    };
    for (const s of SERVICES) {
      const ports = t.services.filter((x) => x.service === s).map((r) => r.publicPort);
      assert.equal(ports.length, 3);
      assert.deepEqual(servers(`${s}_replicas`), [
        `server 127.0.0.1:${ports[0]} max_fails=1 fail_timeout=10s;`,
        `server 127.0.0.1:${ports[1]} max_fails=1 fail_timeout=10s backup;`,
        `server 127.0.0.1:${ports[2]} max_fails=1 fail_timeout=10s backup;`,
      ]);
      assert.deepEqual(servers(`${s}_waiting`), [
        `server 127.0.0.1:${ports[0]} max_fails=1 fail_timeout=10s;`,
        `server 127.0.0.1:${ports[1]} max_fails=0 backup;`,
        `server 127.0.0.1:${ports[2]} max_fails=0 backup;`,
      ]);
    }
    for (const waiting of ['/orders/checkout', '/stock/subtract', '/payment/pay', '/orders/batch_init', '/stock/batch_init']) {
      assert.match(locationBlock(conf, waiting), /proxy_pass http:\/\/[a-z]+_waiting;/, waiting);
    }
    for (const plain of ['/orders/addItem', '/orders/find', '/stock/find', '/stock/add', '/payment/add_funds']) {
      assert.match(locationBlock(conf, plain), /proxy_pass http:\/\/[a-z]+_replicas;/, plain);
    }
    // A subtract waits up to 20 s for holds and then answers 503 itself: the gateway waits longer.
    assert.ok(Number(/proxy_read_timeout (\d+)s;/.exec(locationBlock(conf, '/stock/subtract'))?.[1]) > 20);
  });

  it('limits hostile input and keeps its files in the run dir', () => {
    for (const want of [
      'worker_processes 1;',
      'daemon off;',
      'access_log off;',
      'client_max_body_size 256;',
      'large_client_header_buffers 4 4k;',
      'client_header_timeout 10s;',
      'client_body_timeout 5s;',
      'merge_slashes off;',
      'limit_conn per_address 4096;',
      'limit_conn_status 429;',
      'send_timeout 10s;',
      `pid ${t.gateway.prefix}/nginx.pid;`,
      `client_body_temp_path ${t.gateway.prefix}/client_body_temp;`,
      `error_log ${t.gateway.errorLog} warn;`,
      'listen 127.0.0.1:8000',
    ]) {
      assert.ok(conf.includes(want), `missing ${want}`);
    }
    const workers = Number(/worker_connections (\d+);/.exec(conf)?.[1]);
    assert.ok(workers >= 4096, 'room for 1,000+ clients plus their upstream connections');
    assert.ok(!conf.includes('/var/log') && !conf.includes('/etc/nginx'));
    assert.ok(!conf.includes('user root;'));
    assert.ok(nginxConfig(testTopology('ha', { runAsRoot: true })).includes('user root;'));
  });

  it('is accepted by nginx -t', { skip: which('nginx') === undefined && 'nginx not installed' }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nginx-t-'));
    try {
      const tt = testTopology('ha', { dataDir: dir, runAsRoot: process.getuid?.() === 0 });
      fs.mkdirSync(tt.gateway.prefix, { recursive: true });
      fs.mkdirSync(tt.logDir, { recursive: true });
      fs.writeFileSync(tt.gateway.configFile, nginxConfig(tt));
      const r = spawnSync(which('nginx') ?? 'nginx', ['-t', ...tt.gateway.spawn.args], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gateway behaviour (real nginx, stand-in upstreams)', { skip: which('nginx') === undefined && 'nginx not installed' }, () => {
  let cluster: Cluster;
  const servers: http.Server[] = [];
  // order-0 fails everything with 503: shows which calls nginx re-sends elsewhere.
  const failing = new Set(['order-0']);

  before(async () => {
    cluster = await startCluster({ layout: 'single', services: false });
    for (const r of cluster.topology.services) {
      const server = http.createServer((req, res) => {
        const status = failing.has(r.name) ? 503 : 200;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ replica: r.name, method: req.method, url: req.url }));
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(r.publicPort, '127.0.0.1', resolve));
    }
  });

  after(async () => {
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await cluster.stop();
  });

  async function call(method: string, p: string, body?: string): Promise<{ status: number; type: string; json: Record<string, unknown>; allow: string | null }> {
    const res = await fetch(`${cluster.gatewayUrl}${p}`, { method, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', json: JSON.parse(text) as Record<string, unknown>, allow: res.headers.get('allow') };
  }

  it('strips the service prefix', async () => {
    assert.deepEqual((await call('GET', '/stock/find/abc')).json.url, '/find/abc');
    assert.deepEqual((await call('POST', '/payment/pay/U/7')).json.url, '/pay/U/7');
    assert.deepEqual((await call('POST', '/stock/batch_init/10/100/1')).json.url, '/batch_init/10/100/1');
  });

  it('answers unknown routes 404 and wrong methods 405, in JSON', async () => {
    for (const p of ['/nope', '/stock/find/a/b', '/stock/health', '/orders', '/payment/create_user/x', '/__gateway_error/502']) {
      const r = await call('GET', p);
      assert.equal(r.status, 404, p);
      assert.equal(r.json.code, 'NOT_FOUND');
      assert.match(r.type, /^application\/json/);
    }
    const r = await call('GET', '/payment/pay/U/1');
    assert.equal(r.status, 405);
    assert.equal(r.json.code, 'METHOD_NOT_ALLOWED');
    assert.equal(r.allow, 'POST');
    assert.equal((await call('POST', '/stock/find/x')).status, 405);
  });

  it('refuses big bodies and long URIs with JSON', async () => {
    const big = await call('POST', '/stock/add/x/1', 'x'.repeat(5000));
    assert.equal(big.status, 413);
    assert.equal(big.json.code, 'PAYLOAD_TOO_LARGE');
    const long = await call('GET', `/stock/find/${'a'.repeat(9000)}`);
    assert.equal(long.status, 414);
    assert.match(long.type, /^application\/json/);
  });

  it('does not re-send an ordinary POST, but re-sends checkout', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 4; i++) seen.add((await call('POST', `/orders/addItem/o${i}/i/1`)).status);
    assert.ok(seen.has(503), 'an addItem that reached the failing replica is answered as it was');
    for (let i = 0; i < 4; i++) {
      const r = await call('POST', `/orders/checkout/o${i}`);
      assert.equal(r.status, 200);
      assert.equal(r.json.replica, 'order-1');
    }
  });

  /** Sends raw bytes and returns the status and body nginx answers. */
  async function raw(request: string): Promise<{ status: number; body: string }> {
    const { port } = new URL(cluster.gatewayUrl);
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(request));
      let data = '';
      socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
    });
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]);
    return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
  }

  it('answers protocol errors in JSON, and forwards Host-less HTTP/1.0 and empty segments as they are', async () => {
    const te = await raw('POST /stock/add/x/1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n');
    assert.equal(te.status, 501);
    assert.equal((JSON.parse(te.body) as { code: string }).code, 'NOT_IMPLEMENTED');
    const version = await raw('GET /stock/find/x HTTP/3.0\r\nHost: a\r\n\r\n');
    assert.equal(version.status, 505);
    assert.equal((JSON.parse(version.body) as { code: string }).code, 'HTTP_VERSION_NOT_SUPPORTED');
    const old = await raw('GET /stock/find/x HTTP/1.0\r\n\r\n');
    assert.equal(old.status, 200);
    assert.equal((JSON.parse(old.body) as { url: string }).url, '/find/x');
    assert.equal((await call('POST', '/stock/add//1')).json.url, '/add//1');
  });

  it('sends calls to the active replica while it answers, and to a standby once it is down', async () => {
    for (let i = 0; i < 6; i++) assert.equal((await call('GET', `/stock/find/s${i}`)).json.replica, 'stock-0');
    const active = servers[cluster.topology.services.findIndex((r) => r.name === 'stock-0')]!;
    active.closeAllConnections();
    await new Promise((resolve) => active.close(resolve));
    for (let i = 0; i < 6; i++) {
      const r = await call('GET', `/stock/find/s${i}`);
      assert.equal(r.status, 200);
      assert.equal(r.json.replica, 'stock-1');
    }
  });

  it('sends a checkout to a replica marked failed, back since, when the other is gone, rather than answer 502', async () => {
    // The 503 marks order-0 failed for failTimeoutS; the standby answers.
    assert.equal((await call('POST', '/orders/checkout/before')).json.replica, 'order-1');
    failing.delete('order-0');
    const standby = servers[cluster.topology.services.findIndex((r) => r.name === 'order-1')]!;
    standby.closeAllConnections();
    await new Promise((resolve) => standby.close(resolve));
    const r = await call('POST', '/orders/checkout/after');
    assert.equal(r.status, 200);
    assert.equal(r.json.replica, 'order-0');
    assert.equal(r.json.url, '/checkout/after');
  });

  it('answers 502 in JSON when no replica is up', async () => {
    const payment = new Set(cluster.topology.services.filter((s) => s.service === 'payment').map((s) => s.publicPort));
    for (const s of servers) {
      const addr = s.address();
      if (addr !== null && typeof addr === 'object' && payment.has(addr.port)) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
    }
    const down = await call('POST', '/payment/pay/U/1');
    assert.equal(down.status, 502);
    assert.equal(down.json.code, 'BAD_GATEWAY');
    assert.match(down.type, /^application\/json/);
  });
});
