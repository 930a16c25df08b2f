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
import { k8sFiles } from '../src/k8s-spec.js';
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
};

describe('deploy/k8s', { skip: kubectl === undefined && 'kubectl not installed (Debian: kubernetes-client)' }, () => {
  const rendered = new Map<string, Manifest[]>();
  const apps = new Map<ServiceName, Awaited<ReturnType<typeof offlineServiceApps>>>();
  const ctx: CheckContext = {
    root,
    serves: (service, surface, p) => apps.get(service)?.apps[surface].hasRoute({ method: 'GET', url: p }) ?? false,
  };

  before(async () => {
    for (const o of OVERLAYS) rendered.set(o.name, render(o.name));
    for (const s of ['order', 'stock', 'payment'] as const) apps.set(s, await offlineServiceApps(s));
  });
  after(async () => {
    for (const a of apps.values()) await a.close();
  });

  it('has the overlays the README names, each rendering the three services, their Redis groups and the gateway', () => {
    assert.deepEqual(
      OVERLAYS.map((o) => o.name),
      ['dev', 'ha'],
    );
    for (const [name, docs] of rendered) {
      const ids = workloads(docs)
        .map((w) => w.id)
        .sort();
      assert.deepEqual(
        ids,
        [
          'Deployment gateway',
          ...['order-0', 'order-1', 'payment-0', 'payment-1', 'stock-0', 'stock-1'].map((n) => `Deployment ${n}`),
          ...['order-redis', 'payment-redis', 'sentinel', 'stock-redis'].map((n) => `StatefulSet ${n}`),
        ],
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

  it('sizes dev for a laptop and ha for a 20-CPU cluster', () => {
    assert.ok(requestedCpus(rendered.get('dev') ?? []) <= 2, `dev requests ${requestedCpus(rendered.get('dev') ?? [])} CPUs`);
    const ha = requestedCpus(rendered.get('ha') ?? []);
    assert.ok(ha > 10 && ha <= 20, `ha requests ${ha} CPUs`);
  });

  it('ha: every pod required on its own node, two gateways behind a LoadBalancer', () => {
    const docs = rendered.get('ha') ?? [];
    for (const w of workloads(docs)) {
      const anti = w.pod.affinity?.podAntiAffinity;
      assert.ok((anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []).length > 0, w.id);
      assert.equal(anti?.preferredDuringSchedulingIgnoredDuringExecution, undefined, w.id);
    }
    assert.equal(find(docs, 'Service', 'gateway').spec?.type, 'LoadBalancer');
    assert.equal(find(docs, 'Deployment', 'gateway').spec?.replicas, 2);
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
