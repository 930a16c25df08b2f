import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How often the event-loop delay is sampled, in ms (see the constructor). */
const EVENT_LOOP_SAMPLE_MS = 100;

/** The Prometheus metrics of one service process, served on its internal port. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'surface' | 'route' | 'method' | 'status'>;
  readonly latency: Histogram<'surface' | 'route'>;
  readonly checkouts: Counter<'outcome'>;
  readonly batchSize: Histogram<'kind'>;

  constructor(service: string, replicaId: string) {
    this.registry.setDefaultLabels({ service, replica: replicaId });
    // The event-loop delay histogram samples with a timer: prom-client's default, every 10 ms,
    // wakes an otherwise idle process 100 times a second (~4.5 ms of CPU per second on this VM,
    // about a quarter of an idle standby replica's CPU). Every 100 ms still catches a stall
    // worth alerting on; the gauges are read at a scrape anyway.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    this.requests = new Counter({
      name: 'shop_http_requests_total',
      help: 'HTTP requests answered, by surface (public/internal), route, method and status',
      labelNames: ['surface', 'route', 'method', 'status'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'shop_http_request_duration_seconds',
      help: 'Time from request to response, by surface and route',
      labelNames: ['surface', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.checkouts = new Counter({
      name: 'shop_checkouts_total',
      help: 'Checkout answers by outcome (committed, already_paid, or the refusal code)',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.batchSize = new Histogram({
      name: 'shop_batch_size',
      help: 'Calls that shared one batch, by kind: a script pipeline (checkout_begin, ...), the steps of one internal request sent (steps_to_stock, ...) or received (steps)',
      labelNames: ['kind'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [this.registry],
    });
  }

  /** A BatchObserver feeding `shop_batch_size`. */
  readonly observeBatch = (kind: string, size: number): void => {
    this.batchSize.observe({ kind }, size);
  };
}
