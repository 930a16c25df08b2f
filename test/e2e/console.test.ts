/**
 * The operator console in headless Chromium (Debian's `chromium`, driven by puppeteer-core),
 * against a whole replicated cluster under checkout load: the page's throughput figure moves
 * once load starts, a SIGKILLed Redis primary shows as a failover on the timeline with the
 * new primary named in its group, the killed server shows as restarted, and the inspector
 * answers why a checkout was refused. Every assertion reads the rendered page; a screenshot
 * is saved in the test's temp dir (its path is printed).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { ShopClient, inParallel } from '@shop/launcher/api.js';
import { startCluster, type Cluster } from '@shop/launcher/cluster.js';
import { which } from '@shop/launcher/prereqs.js';

const chromium = which('chromium');
const shotDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-console-test-'));

/** The numeric value the page put on a figure (data-value), NaN while it has none. */
async function figure(page: Page, id: string): Promise<number> {
  return page.$eval(`#${id}`, (el) => Number((el as HTMLElement).dataset.value === '' ? NaN : (el as HTMLElement).dataset.value));
}

describe('operator console in headless Chromium', { skip: chromium === undefined && 'chromium is not installed' }, () => {
  let cluster: Cluster;
  let api: ShopClient;
  let browser: Browser;
  let page: Page;
  let consoleUrl: string;
  let loading = false;
  let load: Promise<void> = Promise.resolve();
  const statuses: Record<number, number> = {};
  let item = '';
  let poorUser = '';
  /** Script errors of the page: none is expected, at any point. */
  const pageErrors: string[] = [];

  before(async () => {
    cluster = await startCluster({ layout: 'ha', replicas: 2, console: true });
    consoleUrl = cluster.consoleUrl!;
    api = new ShopClient(cluster.gatewayUrl, 32);
    item = await api.createItem(1, 1_000_000);
    poorUser = await api.createUser(0);
    browser = await puppeteer.launch({
      executablePath: chromium!,
      headless: true,
      // Root in a container has no user namespaces for Chromium's sandbox.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
    page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.setViewport({ width: 1400, height: 1800 });
  });

  after(async () => {
    loading = false;
    await load;
    await browser?.close();
    await api?.close();
    await cluster?.stop();
  });

  /** Checkouts in a loop: most paid, one in five refused for credit, until `loading` ends. */
  function startLoad(): void {
    loading = true;
    load = inParallel(
      6,
      Array.from({ length: 6 }, (_, worker) => async () => {
        const user = await api.createUser(1_000_000);
        for (let i = 0; loading; i++) {
          try {
            const order = await api.createOrder(i % 5 === 4 ? poorUser : user, [[item, 1]]);
            const a = await api.post(`/orders/checkout/${order}`);
            statuses[a.status] = (statuses[a.status] ?? 0) + 1;
          } catch {
            // During the failover a create may be answered 503: the next round tries again.
            statuses[0] = (statuses[0] ?? 0) + 1;
            await new Promise((r) => setTimeout(r, 50 + worker));
          }
        }
      }),
    ).then(() => undefined);
  }

  test('shows the cluster at rest, then throughput moving under load', async () => {
    await page.goto(consoleUrl, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector('#committed-rate')?.getAttribute('data-value') !== null && document.querySelectorAll('#processes tbody tr').length > 0, {
      timeout: 15_000,
    });
    assert.equal(await figure(page, 'committed-rate'), 0, 'no checkouts before the load starts');
    const rows = await page.$$eval('#processes tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-process')));
    assert.ok(rows.includes('stock-redis-0') && rows.includes('order-1') && rows.includes('gateway'), `processes listed: ${rows.join(', ')}`);
    for (const group of ['order', 'stock', 'payment']) {
      const primary = await page.$eval(`table[data-group="${group}"] .primary-name`, (el) => el.getAttribute('data-primary'));
      assert.equal(primary, (await cluster.currentPrimary(group as 'order')).name);
    }

    startLoad();
    await page.waitForFunction(() => Number(document.querySelector('#committed-rate')?.getAttribute('data-value')) > 0, { timeout: 20_000 });
    await page.waitForFunction(() => Number(document.querySelector('#refused-rate')?.getAttribute('data-value')) > 0, { timeout: 20_000 });
    assert.ok(!Number.isNaN(await figure(page, 'p50')), 'a checkout latency is shown');
    // The chart holds the same series: some second of it shows committed checkouts.
    const peak = await page.evaluate(() => {
      const chart = (window as unknown as { Chart: { getChart(id: string): { data: { datasets: { label: string; data: { y: number }[] }[] } } } }).Chart.getChart('chart-checkouts');
      const committed = chart.data.datasets.find((d) => d.label === 'committed');
      return Math.max(0, ...(committed?.data ?? []).map((p) => p.y));
    });
    assert.ok(peak > 0, `the checkouts chart shows committed checkouts (peak ${peak}/s)`);
  });

  test('a killed Redis primary shows as a failover event, the new primary named, and the old one restarted', async () => {
    const old = await cluster.currentPrimary('stock');
    cluster.process(old.name).signal('SIGKILL');

    const failover = await page.waitForSelector('#events li[data-kind="failover"][data-group="stock"]', { timeout: 30_000 }).catch(async (err: unknown) => {
      const events = await page.$eval('#events', (el) => el.textContent);
      throw new Error(`${(err as Error).message}; timeline: ${events}; page errors: ${pageErrors.join(' | ')}`);
    });
    const text = await failover!.evaluate((el) => el.textContent ?? '');
    const fresh = await cluster.currentPrimary('stock');
    assert.notEqual(fresh.name, old.name);
    assert.ok(text.includes(old.name) && text.includes(fresh.name), `the event names both primaries: ${text}`);
    await page.waitForFunction((name) => document.querySelector('table[data-group="stock"] .primary-name')?.getAttribute('data-primary') === name, { timeout: 10_000 }, fresh.name);
    await page.waitForFunction(
      (name) => document.querySelector(`#processes tr[data-process="${name}"] td:nth-child(5)`)?.textContent === '1',
      { timeout: 30_000 },
      old.name,
    );
    // Checkouts go on through the new primary.
    const committedBefore = statuses[200] ?? 0;
    await page.waitForFunction(() => Number(document.querySelector('#committed-rate')?.getAttribute('data-value')) > 0, { timeout: 30_000 });
    assert.ok((statuses[200] ?? 0) > committedBefore || (await figure(page, 'committed-rate')) > 0);

    const shot = path.join(shotDir, 'console.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = fs.readFileSync(shot);
    assert.ok(png.length > 20_000, `a screenshot of the page (${png.length} bytes)`);
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    console.log(`# console screenshot: ${shot}`);
  });

  test('the inspector says why a checkout was refused', async () => {
    const order = await api.createOrder(poorUser, [[item, 2]]);
    assert.equal((await api.post(`/orders/checkout/${order}`)).status, 400);
    await page.$eval('#order-id', (el) => {
      (el as HTMLInputElement).value = '';
    });
    await page.type('#order-id', order);
    await page.click('#inspect-form button');
    const card = await page.waitForSelector('#inspect-result .tx[data-reason="INSUFFICIENT_CREDIT"]', { timeout: 10_000 });
    const verdict = await card!.$eval('.verdict', (el) => el.textContent ?? '');
    assert.match(verdict, new RegExp(`^Refused: INSUFFICIENT_CREDIT.*user ${poorUser} has 0 available`));
    assert.match(await page.$eval('#inspect-summary', (el) => el.textContent ?? ''), /not paid/);
    const shown = await page.$eval('#inspect-result', (el) => el.textContent ?? '');
    assert.doesNotMatch(shown, /\b(null|undefined|NaN)\b/);
    await page.screenshot({ path: path.join(shotDir, 'inspector.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });

  test('the console is read-only, answers only to its loopback names, and is not behind the gateway', async () => {
    assert.equal((await fetch(`${consoleUrl}/api/state`, { method: 'POST' })).status, 405);
    const port = new URL(consoleUrl).port;
    const { request } = await import('undici');
    const rebound = await request(`${consoleUrl}/api/state`, { headers: { host: `evil.example:${port}` } });
    await rebound.body.dump();
    assert.equal(rebound.statusCode, 403);
    assert.equal((await api.get('/api/state')).status, 404);
    assert.equal((await api.get('/console.js')).status, 404);
    assert.ok(new URL(consoleUrl).hostname === '127.0.0.1');
  });
});
