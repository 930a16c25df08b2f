/**
 * deploy/k8s/: every overlay rendered offline with `kubectl kustomize` and checked
 * statically (k8s-checks.ts): environment against ENV_VARS and the entrypoint scripts,
 * probes on routes the services really serve, nothing but the gateway exposed, budgets and
 * anti-affinity, secrets by reference, every named address a real Service. Each check is
 * also fed a render broken on purpose, so a check that cannot fail fails here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { ServiceName } from '@shop/common/config.js';
import { repoRoot } from '../src/entry.js';
import { OVERLAYS } from '../src/k8s/overlays.js';
import { SHARDED } from '../src/compose-spec.js';
import { k8sFiles, overlayNames, shardedOverlay } from '../src/k8s-spec.js';
import { which } from '../src/prereqs.js';
import { offlineServiceApps } from './offline-service.js';
import { CHECKS, requestedCpus, workloads, type CheckContext, type Container, type Manifest } from './k8s-checks.js';

const root = repoRoot();
const kubectl = which('kubectl');

function render(overlay: string): Manifest[] {
  const r = spawnSync(kubectl ?? 'kubectl', ['kustomize', path.join(root, 'deploy', 'k8s', 'overlays', overlay)], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest);
}

const find = (docs: Manifest[], kind: string, name: string): Manifest => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(d !== undefined, `${kind} ${name} is rendered`);
  return d;
};
const containerOf = (d: Manifest): Container => {
  const c = d.spec?.template?.spec.containers[0];
  assert.ok(c !== undefined, `${d.kind} ${d.metadata.name} has a container`);
  return c;
};

/** One way to break what each check guards; each must make its check complain. */
const BREAKS: Record<string, (docs: Manifest[]) => void> = {
  env: (docs) => {
    containerOf(find(docs, 'Deployment', 'order-0')).env?.push({ name: 'REDIS_PASSWROD', value: 'typo' });
  },
  probes: (docs) => {
    const probe = containerOf(find(docs, 'Deployment', 'stock-1')).livenessProbe?.httpGet;
    assert.ok(probe !== undefined);
    probe.port = 8080; // the public listener, which serves no /health
  },
  exposure: (docs) => {
    const spec = find(docs, 'Service', 'payment-redis-2').spec;
    assert.ok(spec !== undefined);
    spec.type = 'NodePort';
  },
  budgets: (docs) => {
    docs.splice(docs.indexOf(find(docs, 'PodDisruptionBudget', 'sentinel')), 1);
  },
  secrets: (docs) => {
    const env = containerOf(find(docs, 'Deployment', 'payment-0')).env ?? [];
    const i = env.findIndex((e) => e.name === 'INTERNAL_SECRET');
    env[i] = { name: 'INTERNAL_SECRET', value: 'hunter2' };
  },
  addresses: (docs) => {
    find(docs, 'Service', 'sentinel-1').metadata.name = 'sentinel-one';
  },
  configs: (docs) => {
    const data = find(docs, 'ConfigMap', 'gateway-config').data;
    assert.ok(data !== undefined);
    data['nginx.conf'] = (data['nginx.conf'] ?? '').replace('worker_processes 1;', 'worker_processes 2;');
  },
  shards: (docs) => {
    const env = containerOf(find(docs, 'Deployment', 'order-0')).env ?? [];
    const i = env.findIndex((e) => e.name === 'REDIS_SHARDS');
    env[i] = { name: 'REDIS_SHARDS', value: '2' };
  },
};

/** Ways to break a sharded render, each of which the shards check must notice. */
const SHARDED_BREAKS: Record<string, (docs: Manifest[]) => void> = {
  'a group left out of the Sentinel template': (docs) => {
    const data = find(docs, 'ConfigMap', 'sentinel-files').data ?? {};
    for (const key of Object.keys(data)) data[key] = (data[key] ?? '').replace(/^sentinel monitor stock-s1 .*$/m, '');
  },
  'the one-shard template mounted': (docs) => {
    const files = find(docs, 'StatefulSet', 'sentinel').spec?.template?.spec.volumes?.find((v) => v.name === 'files')?.configMap;
    assert.ok(files !== undefined);
    delete files.items;
  },
  'a service replica without REDIS_SHARDS': (docs) => {
    const c = containerOf(find(docs, 'Deployment', 'payment-1'));
    c.env = (c.env ?? []).filter((e) => e.name !== 'REDIS_SHARDS');
  },
  'a shard group that does not run': (docs) => {
    docs.splice(docs.indexOf(find(docs, 'StatefulSet', 'stock-s1-redis')), 1);
  },
  'a Redis server told another count': (docs) => {
    const env = containerOf(find(docs, 'StatefulSet', 'order-s1-redis')).env ?? [];
    const i = env.findIndex((e) => e.name === 'REDIS_SHARDS');
    env[i] = { name: 'REDIS_SHARDS', value: '1' };
  },
};

/** The "CPU requests, total" row of deploy/k8s/README.md's overlay table, by overlay. */
function readmeCpus(): Map<string, number> {
  const text = fs.readFileSync(path.join(root, 'deploy', 'k8s', 'README.md'), 'utf8');
  const header = /^\| \|(.*)\|$/m.exec(text)?.[1]?.split('|').map((c) => c.trim().replace(/`/g, '')) ?? [];
  const row = /^\| CPU requests, total \|(.*)\|$/m.exec(text)?.[1]?.split('|').map((c) => Number(/^[\d.]+/.exec(c.trim())?.[0])) ?? [];
  return new Map(header.map((h, i) => [h, row[i] ?? NaN]));
}

describe('deploy/k8s', { skip: kubectl === undefined && 'kubectl not installed (Debian: kubernetes-client)' }, () => {
  const rendered = new Map<string, Manifest[]>();
  const apps = new Map<ServiceName, Awaited<ReturnType<typeof offlineServiceApps>>>();
  const ctx: CheckContext = {
    root,
    serves: (service, surface, p) => apps.get(service)?.apps[surface].hasRoute({ method: 'GET', url: p }) ?? false,
  };

  before(async () => {
    for (const o of overlayNames()) rendered.set(o, render(o));
    for (const s of ['order', 'stock', 'payment'] as const) apps.set(s, await offlineServiceApps(s));
  });
  after(async () => {
    for (const a of apps.values()) await a.close();
  });

  it('has the overlays the README names, each rendering the three services, their Redis groups and the gateway', () => {
    assert.deepEqual(
      overlayNames(),
      ['dev', 'ha', 'dev-sharded', 'ha-sharded'],
    );
    for (const [name, docs] of rendered) {
      const shards = name.endsWith('-sharded') ? SHARDED : 1;
      const groups = Array.from({ length: shards }, (_, k) => ['order', 'payment', 'stock'].map((s) => (k === 0 ? s : `${s}-s${k}`))).flat();
      const ids = workloads(docs)
        .map((w) => w.id)
        .sort();
      assert.deepEqual(
        ids,
        [
          'Deployment gateway',
          ...['order-0', 'order-1', 'payment-0', 'payment-1', 'stock-0', 'stock-1'].map((n) => `Deployment ${n}`),
          ...[...groups.map((g) => `${g}-redis`), 'sentinel'].sort().map((n) => `StatefulSet ${n}`),
        ].sort(),
        name,
      );
    }
  });

  for (const [check, run] of Object.entries(CHECKS)) {
    it(`${check}: every overlay passes, and a render broken on purpose does not`, () => {
      for (const [name, docs] of rendered) assert.deepEqual(run(docs, ctx), [], `${check} on ${name}`);
      const broken = structuredClone(rendered.get('dev') ?? []);
      BREAKS[check]?.(broken);
      assert.notDeepEqual(run(broken, ctx), [], `${check} notices the break`);
    });
  }

  it('shards: a sharded render broken on purpose does not pass', () => {
    for (const [what, breakIt] of Object.entries(SHARDED_BREAKS)) {
      const broken = structuredClone(rendered.get(shardedOverlay('dev')) ?? []);
      breakIt(broken);
      assert.notDeepEqual(CHECKS.shards?.(broken, ctx), [], what);
    }
  });

  it('sharded overlays: the base overlay plus one Redis group per extra shard, the Sentinels on the template that watches them all', () => {
    for (const o of OVERLAYS) {
      const one = rendered.get(o.name) ?? [];
      const sharded = rendered.get(shardedOverlay(o.name)) ?? [];
      const key = (d: Manifest): string => `${d.kind} ${d.metadata.name}`;
      const added = sharded.map(key).filter((k) => !one.map(key).includes(k));
      // Per extra group: StatefulSet, headless Service, 3 pod Services, disruption budget.
      assert.equal(added.length, (SHARDED - 1) * 3 * 6, added.join(', '));
      assert.deepEqual(one.map(key).filter((k) => !sharded.map(key).includes(k)), [], 'nothing of the base overlay dropped');
      const data = find(sharded, 'ConfigMap', 'sentinel-files').data ?? {};
      assert.deepEqual(Object.keys(data).sort(), ['sentinel-entrypoint.sh', 'sentinel.sharded.conf'], 'the one-shard template is gone');
      // Sized like the overlay's own groups.
      const size = (d: Manifest): unknown => containerOf(d).resources;
      assert.deepEqual(size(find(sharded, 'StatefulSet', 'stock-s1-redis')), size(find(sharded, 'StatefulSet', 'stock-redis')));
    }
  });

  it('sizes dev for a laptop, ha for a 20-CPU cluster, ha-sharded for 30; the README states each total', () => {
    const cpus = (o: string): number => requestedCpus(rendered.get(o) ?? []);
    assert.ok(cpus('dev') <= 2, `dev requests ${cpus('dev')} CPUs`);
    assert.ok(cpus('dev-sharded') <= 2, `dev-sharded requests ${cpus('dev-sharded')} CPUs`);
    assert.ok(cpus('ha') > 10 && cpus('ha') <= 20, `ha requests ${cpus('ha')} CPUs`);
    assert.ok(cpus('ha-sharded') > 20 && cpus('ha-sharded') <= 30, `ha-sharded requests ${cpus('ha-sharded')} CPUs`);
    const readme = readmeCpus();
    for (const o of overlayNames()) assert.equal(readme.get(o), Math.round(cpus(o) * 100) / 100, `deploy/k8s/README.md's CPU total for ${o}`);
  });

  it('ha and ha-sharded: every pod required on its own node, two gateways behind a LoadBalancer', () => {
    for (const docs of [rendered.get('ha') ?? [], rendered.get(shardedOverlay('ha')) ?? []]) {
      for (const w of workloads(docs)) {
        const anti = w.pod.affinity?.podAntiAffinity;
        assert.ok((anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []).length > 0, w.id);
        assert.equal(anti?.preferredDuringSchedulingIgnoredDuringExecution, undefined, w.id);
      }
      assert.equal(find(docs, 'Service', 'gateway').spec?.type, 'LoadBalancer');
      assert.equal(find(docs, 'Deployment', 'gateway').spec?.replicas, 2);
    }
  });

  it('committed files equal what the generator makes now, and compose.ts --check says so', () => {
    for (const f of k8sFiles(root)) {
      const file = path.join(root, f.path);
      assert.ok(fs.existsSync(file), `${f.path} is missing: run npx tsx --conditions=source packages/launcher/src/compose.ts`);
      assert.equal(fs.readFileSync(file, 'utf8'), f.content, `${f.path} is stale: run npx tsx --conditions=source packages/launcher/src/compose.ts`);
    }
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', 'packages/launcher/src/compose.ts', '--check'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
  });
});
