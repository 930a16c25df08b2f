/**
 * What deploy/ adds beside the shop itself: Prometheus scraping every service replica's
 * internal /metrics (no secret needed there), Grafana with its datasource and the shop
 * dashboard provisioned, and locust (master with its web UI, and workers) running the
 * repository's locustfile against the gateway.
 *
 * Only Grafana (3000) and locust's web UI (8089) are published, on the host's loopback:
 * they are operator tools. Prometheus stays on the internal `monitoring` network; Grafana
 * shows what it holds. locust is a compose profile, started only on request
 * (`--profile load`): a load generator must never start with the shop by accident.
 */
import { stringify } from 'yaml';
import { PROMETHEUS_UID, dashboardJson } from './grafana-dashboard.js';
import { SERVICES, type Topology } from './topology.js';

/** Pinned: a tag that moves would change what `up` runs without a commit. */
export const PROMETHEUS_IMAGE = 'prom/prometheus:v2.53.4';
export const GRAFANA_IMAGE = 'grafana/grafana:11.6.0';
/** The version Debian's python3-locust has, which `npm run load` and its test run. */
export const LOCUST_IMAGE = 'locustio/locust:2.12.1';
export const LOCUST_WORKERS = 2;

const PROMETHEUS_PORT = 9090;
export const GRAFANA_PORT = 3000;
export const LOCUST_UI_PORT = 8089;
const GRAFANA_ADMIN_REF = '${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD (see deploy/.env.example)}';
const LOCUST_DIR = '/mnt/locust';
const GRAFANA_DASHBOARDS = '/etc/grafana/dashboards';
const SCRAPE_INTERVAL = '5s';

export interface MonitoringFile {
  path: string;
  content: string;
}

/** Scrape jobs named after the services; targets are every replica's internal port. */
function prometheusConfig(t: Topology): string {
  return stringify(
    {
      global: { scrape_interval: SCRAPE_INTERVAL, evaluation_interval: SCRAPE_INTERVAL },
      scrape_configs: SERVICES.map((s) => ({
        job_name: s,
        metrics_path: '/metrics',
        static_configs: [{ targets: t.services.filter((r) => r.service === s).map((r) => `${r.host}:${r.internalPort}`) }],
      })),
    },
    { lineWidth: 0 },
  );
}

const datasources = (): string =>
  stringify({
    apiVersion: 1,
    datasources: [
      { name: 'Prometheus', uid: PROMETHEUS_UID, type: 'prometheus', access: 'proxy', url: `http://prometheus:${PROMETHEUS_PORT}`, isDefault: true, editable: false },
    ],
  });

const dashboardProvider = (): string =>
  stringify({
    apiVersion: 1,
    providers: [
      { name: 'shop', folder: 'Shop', type: 'file', disableDeletion: true, allowUiUpdates: false, options: { path: GRAFANA_DASHBOARDS } },
    ],
  });

/** The generated files these services mount, with their paths in the repository. */
export function monitoringFiles(t: Topology, header: string): MonitoringFile[] {
  return [
    { path: 'deploy/prometheus/prometheus.yml', content: header + prometheusConfig(t) },
    { path: 'deploy/grafana/provisioning/datasources/prometheus.yml', content: header + datasources() },
    { path: 'deploy/grafana/provisioning/dashboards/shop.yml', content: header + dashboardProvider() },
    { path: 'deploy/grafana/dashboards/shop.json', content: dashboardJson() },
  ];
}

/** Compose services for Prometheus, Grafana and locust, by name. */
export function monitoringServices(gateway: { name: string; port: number }): Record<string, unknown> {
  const locust = (role: string[], extra: Record<string, unknown>): Record<string, unknown> => ({
    image: LOCUST_IMAGE,
    // Both shapes: the web UI's class picker offers CheckoutUser (stress) and ShopUser (mixed).
    command: ['-f', ['locustfile.py', 'mixed.py'].map((f) => `${LOCUST_DIR}/${f}`).join(','), ...role],
    environment: { SHOP_ORDERS: '${SHOP_ORDERS:-100000}' },
    volumes: [`../bench/locust:${LOCUST_DIR}:ro`],
    // The gateway's network: the only way in to the shop, as for any client.
    networks: ['edge'],
    profiles: ['load'],
    ...extra,
  });
  const services: Record<string, unknown> = {
    prometheus: {
      image: PROMETHEUS_IMAGE,
      command: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=15d'],
      volumes: ['./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro', 'prometheus-data:/prometheus'],
      // app: the services' internal ports; monitoring: Grafana.
      networks: ['app', 'monitoring'],
      restart: 'unless-stopped',
    },
    grafana: {
      image: GRAFANA_IMAGE,
      environment: {
        GF_SECURITY_ADMIN_PASSWORD: GRAFANA_ADMIN_REF,
        GF_USERS_ALLOW_SIGN_UP: 'false',
        GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: `${GRAFANA_DASHBOARDS}/shop.json`,
      },
      volumes: [
        // Only the two kinds provisioned here: the image's own provisioning folders stay.
        ...['datasources', 'dashboards'].map((kind) => `./grafana/provisioning/${kind}:/etc/grafana/provisioning/${kind}:ro`),
        `./grafana/dashboards:${GRAFANA_DASHBOARDS}:ro`,
        'grafana-data:/var/lib/grafana',
      ],
      ports: [`127.0.0.1:${GRAFANA_PORT}:${GRAFANA_PORT}`],
      // ops: only to publish the port (an internal network cannot).
      networks: ['monitoring', 'ops'],
      restart: 'unless-stopped',
      depends_on: ['prometheus'],
    },
    'locust-master': locust(['--master', '--host', `http://${gateway.name}:${gateway.port}`, '--class-picker'], {
      ports: [`127.0.0.1:${LOCUST_UI_PORT}:${LOCUST_UI_PORT}`],
    }),
  };
  for (let i = 0; i < LOCUST_WORKERS; i++) {
    services[`locust-worker-${i}`] = locust(['--worker', '--master-host', 'locust-master'], { depends_on: ['locust-master'] });
  }
  return services;
}

export const MONITORING_NETWORKS = {
  // Prometheus and Grafana: no route out.
  monitoring: { internal: true },
  // Grafana's published port on the host's loopback.
  ops: {},
} as const;

export const MONITORING_VOLUMES = { 'prometheus-data': {}, 'grafana-data': {} } as const;
