/** Samples the services' metrics and the processes' CPU once a second during a run. */
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSnapshot, type Component, type CpuSnapshot } from './cpu.js';
import { histogramQuantile, readPoint, recordDelta, type MetricsPoint } from './prom.js';

export interface Replica {
  name: string;
  service: string;
  internalUrl: string;
}

export interface SeriesPoint {
  /** Seconds since the sampler started, at the end of the interval. */
  t: number;
  /** Checkout answers per second by outcome. */
  checkouts: Record<string, number>;
  /** Approximate checkout latency in ms from the services' histograms (bucket interpolation). */
  p50Ms: number | undefined;
  p90Ms: number | undefined;
  p99Ms: number | undefined;
  /** CPU cores busy per component (CPU seconds per second). */
  cores: Record<string, number>;
  machineCores: number;
  missing: string[];
}

export class Sampler {
  readonly series: SeriesPoint[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  private startMs = 0;

  constructor(
    private readonly replicas: Replica[],
    private readonly components: Component[],
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.running = true;
    this.startMs = Date.now();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    let prevM: MetricsPoint | undefined = await this.metrics();
    let prevC: CpuSnapshot = cpuSnapshot(this.components);
    let next = Date.now() + this.intervalMs;
    while (this.running) {
      // Sleep in short steps so stop() does not wait a whole interval.
      while (this.running && Date.now() < next) await sleep(Math.min(100, next - Date.now()));
      if (!this.running) break;
      next += this.intervalMs;
      const m = await this.metrics();
      const c = cpuSnapshot(this.components);
      const wall = (c.atMs - prevC.atMs) / 1000;
      const cores: Record<string, number> = {};
      for (const [k, v] of Object.entries(c.components)) cores[k] = Math.max(0, v - (prevC.components[k] ?? 0)) / wall;
      const point: SeriesPoint = {
        t: (c.atMs - this.startMs) / 1000,
        checkouts: {},
        p50Ms: undefined,
        p90Ms: undefined,
        p99Ms: undefined,
        cores,
        machineCores: (c.machineBusy - prevC.machineBusy) / wall,
        missing: m?.missing ?? ['all'],
      };
      if (m !== undefined && prevM !== undefined) {
        const mWall = (m.atMs - prevM.atMs) / 1000;
        for (const [k, v] of Object.entries(recordDelta(prevM.checkouts, m.checkouts))) point.checkouts[k] = v / mWall;
        const ms = (q: number): number | undefined => {
          const s = histogramQuantile(q, prevM!.checkoutBuckets, m.checkoutBuckets);
          return s === undefined ? undefined : s * 1000;
        };
        point.p50Ms = ms(0.5);
        point.p90Ms = ms(0.9);
        point.p99Ms = ms(0.99);
      }
      this.series.push(point);
      prevM = m;
      prevC = c;
    }
  }

  private async metrics(): Promise<MetricsPoint | undefined> {
    if (this.replicas.length === 0) return undefined;
    return readPoint(this.replicas);
  }
}
