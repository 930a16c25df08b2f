/**
 * The Grafana dashboard of deploy/, as data: what an operator watches during load or a
 * failover, the same views as the live console. Every query names only metrics the services
 * export (test/e2e/dashboard-metrics.test.ts checks them against a running cluster's
 * /metrics), plus `up`, which Prometheus records per scrape target.
 */

/** The provisioned Prometheus datasource's uid; the datasource file declares the same. */
export const PROMETHEUS_UID = 'shop-prometheus';
export const DASHBOARD_UID = 'shop-overview';

export interface PanelQuery {
  expr: string;
  legend: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  /** Grafana unit id: reqps, s, short, ... */
  unit: string;
  kind: 'timeseries' | 'stat';
  queries: PanelQuery[];
}

const RATE = '[1m]';
const quantile = (q: number, metric: string, by: string, matchers = ''): string =>
  `histogram_quantile(${q}, sum by (le, ${by}) (rate(${metric}_bucket${matchers}${RATE})))`;

export const PANELS: PanelSpec[] = [
  {
    title: 'Checkouts/s by outcome',
    description: 'Answers of /orders/checkout: committed, already_paid, or the refusal code (OUT_OF_STOCK, ...)',
    unit: 'reqps',
    kind: 'timeseries',
    queries: [{ expr: `sum by (outcome) (rate(shop_checkouts_total${RATE}))`, legend: '{{outcome}}' }],
  },
  {
    title: 'Checkout latency p50 / p99',
    description: 'Time from request to answer at the order service, from the latency histogram',
    unit: 's',
    kind: 'timeseries',
    queries: [0.5, 0.99].map((q) => ({
      expr: quantile(q, 'shop_http_request_duration_seconds', 'service', '{surface="public",route="/checkout/:order_id"}'),
      legend: `p${q * 100}`,
    })),
  },
  {
    title: 'Public latency p99 by service',
    description: 'Every public route of each service, from the latency histogram',
    unit: 's',
    kind: 'timeseries',
    queries: [{ expr: quantile(0.99, 'shop_http_request_duration_seconds', 'service', '{surface="public"}'), legend: '{{service}}' }],
  },
  {
    title: 'Requests/s by service',
    description: 'Public requests answered by each service, all replicas',
    unit: 'reqps',
    kind: 'timeseries',
    queries: [{ expr: `sum by (service) (rate(shop_http_requests_total{surface="public"}${RATE}))`, legend: '{{service}}' }],
  },
  {
    title: '5xx/s by service and surface',
    description: 'Answers the client cannot act on with certainty (see docs/API.md): should stay at 0',
    unit: 'reqps',
    kind: 'timeseries',
    queries: [{ expr: `sum by (service, surface) (rate(shop_http_requests_total{status=~"5.."}${RATE}))`, legend: '{{service}} {{surface}}' }],
  },
  {
    title: 'Batch sizes (mean) by kind',
    description: 'Calls that shared one Redis pipeline or one internal request: higher under load',
    unit: 'short',
    kind: 'timeseries',
    queries: [
      {
        expr: `sum by (kind) (rate(shop_batch_size_sum${RATE})) / sum by (kind) (rate(shop_batch_size_count${RATE}))`,
        legend: '{{kind}}',
      },
    ],
  },
  {
    title: 'Unfinished and parked checkout transactions',
    description: 'Begun and not yet retired (recovery finishes them within seconds), and those whose recovery keeps failing',
    unit: 'short',
    kind: 'timeseries',
    // Every order replica reads the same Redis group: max, not sum.
    queries: [
      { expr: 'max(shop_checkout_unfinished_transactions)', legend: 'unfinished' },
      { expr: 'max(shop_checkout_parked_transactions)', legend: 'parked' },
    ],
  },
  {
    title: 'Checkouts in flight, being recovered, BUSY waits/s',
    description: 'Checkout requests being answered and transactions recovery is driving (per replica, summed), and reserves answered BUSY: waits for other checkouts\' holds',
    unit: 'short',
    kind: 'timeseries',
    queries: [
      { expr: 'sum(shop_checkout_in_flight)', legend: 'in flight' },
      { expr: 'sum(shop_checkout_recovering)', legend: 'being recovered' },
      { expr: `sum by (participant) (rate(shop_checkout_busy_waits_total${RATE}))`, legend: 'BUSY waits/s at {{participant}}' },
    ],
  },
  {
    title: 'Processes up',
    description: 'Each service replica answering its /metrics scrape (1) or not (0)',
    unit: 'short',
    kind: 'stat',
    queries: [{ expr: 'up{job=~"order|stock|payment"}', legend: '{{instance}}' }],
  },
  {
    title: 'CPU by replica',
    description: 'CPU seconds per second of each service process',
    unit: 'percentunit',
    kind: 'timeseries',
    queries: [{ expr: `sum by (replica) (rate(process_cpu_seconds_total${RATE}))`, legend: '{{replica}}' }],
  },
  {
    title: 'Event loop lag p99 by replica',
    description: 'A busy or blocked service shows here before its latency does',
    unit: 's',
    kind: 'timeseries',
    queries: [{ expr: 'max by (replica) (nodejs_eventloop_lag_p99_seconds)', legend: '{{replica}}' }],
  },
];

const WIDTH = 12;
const HEIGHT = 8;

function panelJson(p: PanelSpec, index: number): Record<string, unknown> {
  return {
    id: index + 1,
    type: p.kind,
    title: p.title,
    description: p.description,
    datasource: { type: 'prometheus', uid: PROMETHEUS_UID },
    // Two panels a row, in the order listed.
    gridPos: { x: (index % 2) * WIDTH, y: Math.floor(index / 2) * HEIGHT, w: WIDTH, h: HEIGHT },
    fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
    options:
      p.kind === 'stat'
        ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'background', graphMode: 'none' }
        : { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets: p.queries.map((q, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: { type: 'prometheus', uid: PROMETHEUS_UID },
      expr: q.expr,
      legendFormat: q.legend,
    })),
  };
}

/** The dashboard JSON Grafana provisions from deploy/grafana/dashboards/. */
export function dashboardJson(): string {
  const dashboard = {
    uid: DASHBOARD_UID,
    title: 'Shop: checkouts, latency, transactions',
    // JSON holds no comments: the way back to the source goes here.
    description: 'Generated from packages/launcher/src/grafana-dashboard.ts by packages/launcher/src/compose.ts: edit that, not this file',
    tags: ['shop'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: '5s',
    time: { from: 'now-15m', to: 'now' },
    panels: PANELS.map(panelJson),
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
