/**
 * deploy/'s monitoring and load services, read from the committed files: Prometheus scrapes
 * exactly the service replicas' internal ports, Grafana's provisioning points at what is
 * mounted, every mounted file exists, images are pinned and nothing but the operator UIs
 * is reachable from the host. (Which metric names the dashboard may use is checked against
 * a running cluster: test/e2e/dashboard-metrics.test.ts.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { repoRoot } from '../src/entry.js';
import { SERVICES } from '../src/topology.js';

const deploy = path.join(repoRoot(), 'deploy');
const readYaml = <T>(rel: string): T => parse(fs.readFileSync(path.join(deploy, rel), 'utf8')) as T;

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  networks?: string[];
  ports?: string[];
  profiles?: string[];
}
const compose = readYaml<{ services: Record<string, Service>; networks: Record<string, { internal?: boolean }> }>('docker-compose.yml');
const services = compose.services;
const svc = (name: string): Service => {
  const s = services[name];
  assert.ok(s !== undefined, `no ${name} service`);
  return s;
};
/** Host side and container side of each bind mount of a service (named volumes left out). */
const mounts = (s: Service): { host: string; target: string }[] =>
  (s.volumes ?? [])
    .filter((v) => v.startsWith('.'))
    .map((v) => {
      const [host = '', target = ''] = v.split(':');
      return { host: path.resolve(deploy, host), target };
    });

describe('deploy/ monitoring and load', () => {
  it('Prometheus scrapes the internal port of every service replica, one job per service', () => {
    const config = readYaml<{ scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[] }>(
      'prometheus/prometheus.yml',
    );
    const replicas = Object.entries(services).filter(([, s]) => s.environment?.SERVICE !== undefined);
    assert.equal(replicas.length, 6);
    assert.deepEqual(
      config.scrape_configs.map((j) => j.job_name),
      [...SERVICES],
    );
    for (const job of config.scrape_configs) {
      assert.equal(job.metrics_path, '/metrics');
      const expected = replicas.filter(([, s]) => s.environment?.SERVICE === job.job_name).map(([n, s]) => `${n}:${s.environment?.INTERNAL_PORT}`);
      assert.deepEqual(job.static_configs.flatMap((c) => c.targets).sort(), expected.sort());
    }
  });

  it('Prometheus shares a network with every service replica and with Grafana, and none with the host', () => {
    const prometheus = svc('prometheus');
    for (const [name, s] of Object.entries(services).filter(([, x]) => x.environment?.SERVICE !== undefined)) {
      assert.ok(s.networks?.some((n) => prometheus.networks?.includes(n)), `prometheus cannot reach ${name}`);
    }
    assert.ok(svc('grafana').networks?.some((n) => prometheus.networks?.includes(n)));
    assert.equal(prometheus.ports, undefined);
    for (const n of prometheus.networks ?? []) assert.equal(compose.networks[n]?.internal, true, `${n} is internal`);
  });

  it('locust reaches the gateway as clients do, and only starts with the load profile', () => {
    const gatewayNets = svc('gateway').networks ?? [];
    const locusts = Object.entries(services).filter(([n]) => n.startsWith('locust-'));
    assert.deepEqual(
      locusts.map(([n]) => n),
      ['locust-master', 'locust-worker-0', 'locust-worker-1'],
    );
    for (const [name, s] of locusts) {
      assert.deepEqual(s.profiles, ['load'], name);
      assert.ok(s.networks?.some((n) => gatewayNets.includes(n)), `${name} cannot reach the gateway`);
      assert.ok(!s.networks?.some((n) => ['data', 'app', 'monitoring'].includes(n)), `${name} is on an internal network`);
    }
    assert.ok(svc('locust-master').command?.includes('http://gateway:8000'));
  });

  it('mounts only files that are in the repository, the locustfile included', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s)) assert.ok(fs.existsSync(m.host), `${name} mounts missing ${path.relative(repoRoot(), m.host)}`);
    }
    for (const name of ['locust-master', 'locust-worker-0']) {
      const command = svc(name).command ?? [];
      const locustfiles = (command[command.indexOf('-f') + 1] ?? '').split(',');
      assert.equal(locustfiles.length, 2, 'both shapes');
      for (const file of locustfiles) {
        const mount = mounts(svc(name)).find((m) => file.startsWith(`${m.target}/`));
        assert.ok(mount !== undefined, `${name}: ${file} is not mounted`);
        assert.ok(fs.existsSync(path.join(mount.host, file.slice(mount.target.length + 1))), `${name}: ${file} is not in the repository`);
      }
    }
  });

  it('provisions the datasource every dashboard query uses, and the dashboard from where it is mounted', () => {
    const ds = readYaml<{ datasources: { uid: string; url: string }[] }>('grafana/provisioning/datasources/prometheus.yml').datasources;
    assert.equal(ds.length, 1);
    assert.equal(ds[0]?.url, 'http://prometheus:9090');
    const dashboard = JSON.parse(fs.readFileSync(path.join(deploy, 'grafana/dashboards/shop.json'), 'utf8')) as {
      panels: { title: string; datasource: { uid: string }; targets: { datasource: { uid: string }; expr: string }[] }[];
    };
    assert.ok(dashboard.panels.length >= 6);
    for (const p of dashboard.panels) {
      assert.equal(p.datasource.uid, ds[0]?.uid, p.title);
      assert.ok(p.targets.length > 0, p.title);
      for (const t of p.targets) assert.equal(t.datasource.uid, ds[0]?.uid, p.title);
    }
    const provider = readYaml<{ providers: { options: { path: string } }[] }>('grafana/provisioning/dashboards/shop.yml').providers[0];
    const grafana = mounts(svc('grafana'));
    const dashboards = grafana.find((m) => m.target === provider?.options.path);
    assert.equal(dashboards?.host, path.join(deploy, 'grafana', 'dashboards'));
    for (const kind of ['datasources', 'dashboards']) {
      const target = `/etc/grafana/provisioning/${kind}`;
      assert.ok(grafana.some((m) => m.target === target && m.host === path.join(deploy, 'grafana', 'provisioning', kind)), target);
    }
  });

  it('pins every image it pulls to a version', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build !== undefined) continue; // built here from the repository
      assert.match(s.image ?? '', /^[\w./-]+:v?\d+\.\d+(\.\d+)?(-[\w.]+)?$/, `${name}: ${s.image}`);
    }
  });
});
