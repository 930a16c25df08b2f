// The operator console's page: polls /api/state once a second and redraws in place; the
// inspector asks /api/order/<id>. Every value is put in with textContent, never as HTML:
// order ids and reasons come from the database.
/* global document, window, fetch, Chart, setInterval */
'use strict';

const COLORS = ['#1a7f37', '#9a6700', '#cf222e', '#0550ae', '#8250df', '#bc4c00', '#57606a', '#1b7c83'];
const REFUSAL_COLORS = ['#bf8700', '#e16f24', '#a475f9', '#9a6700', '#d4a72c', '#6e7781'];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    node.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return node;
}

const $ = (id) => document.getElementById(id);
const fmt = (n, digits = 1) => (n === null || n === undefined || Number.isNaN(n) ? '–' : Number(n).toFixed(digits));
const clock = (t) => new Date(t).toLocaleTimeString([], { hour12: false });
const duration = (s) => {
  if (s === null || s === undefined) return '–';
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
};
const sumOf = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);

function lineChart(canvas, yTitle) {
  return new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', intersect: false },
      elements: { point: { radius: 0 }, line: { borderWidth: 1.5, tension: 0.2 } },
      scales: {
        x: { type: 'linear', ticks: { callback: (v) => clock(v), maxTicksLimit: 6 } },
        y: { beginAtZero: true, title: { display: true, text: yTitle } },
      },
      plugins: { legend: { labels: { boxWidth: 12 } } },
    },
  });
}

/** Puts `series` (label → points) into the chart, keeping datasets (and their hidden state) by label. */
function setSeries(chart, series, colors) {
  const wanted = Object.keys(series);
  chart.data.datasets = chart.data.datasets.filter((d) => wanted.includes(d.label));
  wanted.forEach((label, i) => {
    let ds = chart.data.datasets.find((d) => d.label === label);
    if (!ds) {
      const color = colors[i % colors.length];
      ds = { label, data: [], borderColor: color, backgroundColor: color };
      chart.data.datasets.push(ds);
    }
    const spec = series[label];
    ds.data = spec.data || spec;
    if (spec.style) Object.assign(ds, spec.style);
  });
  chart.update('none');
}

const charts = {};

function drawCharts(state) {
  const s = state.series;
  const pts = (f) => s.map((p) => ({ x: p.t, y: f(p) }));
  const reasons = [...new Set(s.flatMap((p) => Object.keys(p.refused)))].sort();
  const checkouts = {
    committed: pts((p) => p.committed),
    'already paid': pts((p) => p.alreadyPaid),
    '5xx': pts((p) => p.errors),
  };
  for (const r of reasons) checkouts[`refused: ${r}`] = pts((p) => p.refused[r] || 0);
  const failovers = state.events.filter((e) => e.kind === 'failover' && s.length > 0 && e.t >= s[0].t);
  checkouts.failover = {
    data: failovers.map((e) => ({ x: e.t, y: 0 })),
    style: { type: 'line', showLine: false, pointStyle: 'triangle', pointRadius: 9, borderColor: '#24292f', backgroundColor: '#24292f' },
  };
  setSeries(charts.checkouts, checkouts, [COLORS[0], COLORS[6], COLORS[2], ...REFUSAL_COLORS]);
  setSeries(charts.latency, { p50: pts((p) => p.p50), p99: pts((p) => p.p99) }, [COLORS[3], COLORS[4]]);
  const services = Object.keys(s.length ? s[s.length - 1].requests : {});
  setSeries(charts.requests, Object.fromEntries(services.map((name) => [name, pts((p) => p.requests[name] || 0)])), [COLORS[3], COLORS[5], COLORS[4]]);
  setSeries(
    charts.tx,
    {
      'in flight': pts((p) => p.inFlight),
      unfinished: pts((p) => p.unfinished),
      'being recovered': pts((p) => p.recovering),
      'BUSY waits /s': pts((p) => p.busy),
    },
    [COLORS[3], COLORS[2], COLORS[4], COLORS[1]],
  );
}

function setFigure(id, text, value) {
  const node = $(id);
  node.textContent = text;
  // The raw number, for tests and scripts reading the page.
  node.dataset.value = value === null || value === undefined ? '' : String(value);
}

function drawFigures(state) {
  const p = state.series[state.series.length - 1];
  if (!p) return;
  const refused = sumOf(p.refused);
  setFigure('committed-rate', fmt(p.committed), p.committed);
  setFigure('refused-rate', fmt(refused), refused);
  $('refused-reasons').textContent = Object.entries(p.refused)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ');
  setFigure('error-rate', fmt(p.errors), p.errors);
  setFigure('p50', p.p50 === null ? '–' : `${fmt(p.p50)} ms`, p.p50);
  setFigure('p99', p.p99 === null ? '–' : `${fmt(p.p99)} ms`, p.p99);
  setFigure('in-flight', String(p.inFlight), p.inFlight);
  setFigure('unfinished-count', p.unfinished === null ? '–' : String(p.unfinished), p.unfinished);
  $('parked-count').textContent = p.parked ? `${p.parked} parked` : '';
  setFigure('recovering', String(p.recovering), p.recovering);
  setFigure('busy-rate', fmt(p.busy), p.busy);
  $('updated').textContent = `updated ${clock(state.now)} · ${p.scraped}/${p.replicas} service replicas answered`;
}

function drawGroups(state) {
  const box = $('groups');
  box.replaceChildren(
    ...state.groups.map((g) => {
      const sentinels = state.layout === 'ha' ? ` · Sentinels ${g.sentinelsAnswered}/${g.sentinelsAsked} answer, epoch ${g.configEpoch ?? '?'}` : '';
      const flags = g.flags.length && g.flags.join(',') !== 'master' ? ` · flags ${g.flags.join(',')}` : '';
      return el(
        'table',
        { class: 'grid group', 'data-group': g.group },
        el(
          'caption',
          {},
          `${g.group}: primary `,
          el('span', { class: g.primary ? 'primary-name' : 'primary-name down', 'data-primary': g.primary || '' }, g.primary || 'none agreed'),
          sentinels + flags,
        ),
        el('thead', {}, el('tr', {}, ['server', 'address', 'role', 'link', 'lag', 'promotable'].map((h) => el('th', {}, h)))),
        el(
          'tbody',
          {},
          g.nodes.map((n) =>
            el(
              'tr',
              { class: n.primary ? 'primary' : '', 'data-node': n.name },
              el('td', {}, n.name),
              el('td', {}, n.address),
              el('td', { class: n.up ? '' : 'down' }, n.up ? (n.primary ? 'primary' : n.role === 'master' ? 'master (not named)' : 'replica') : 'DOWN'),
              el('td', {}, n.primary ? '' : n.linkState || '–'),
              el('td', {}, n.primary ? '' : n.lagSeconds === undefined ? '–' : `${n.lagSeconds} s / ${n.lagBytes ?? '?'} B`),
              el('td', {}, n.primary ? '' : n.promotable === null ? 'unknown' : n.promotable ? `yes (priority ${n.sentinelPriority ?? '?'})` : `no${n.sentinelPriority !== undefined ? ` (priority ${n.sentinelPriority})` : ''}`),
            ),
          ),
        ),
      );
    }),
  );
}

function drawEvents(state) {
  const list = $('events');
  const events = [...state.events].reverse();
  list.replaceChildren(...events.map((e) => el('li', { 'data-kind': e.kind, 'data-group': e.group }, `${clock(e.t)}  ${e.text}`)));
  if (events.length === 0) list.append(el('li', { class: 'muted' }, 'nothing yet'));
}

function drawProcesses(state) {
  $('processes').tBodies[0].replaceChildren(
    ...state.processes.map((p) =>
      el(
        'tr',
        { 'data-process': p.name },
        el('td', {}, p.name),
        el('td', {}, p.kind),
        el('td', { class: p.state === 'running' ? '' : 'down' }, p.state),
        el('td', {}, p.pid ?? '–'),
        el('td', {}, p.restarts),
        el('td', {}, duration(p.uptimeS)),
      ),
    ),
  );
}

async function poll() {
  try {
    const res = await fetch('/api/state', { cache: 'no-store' });
    const state = await res.json();
    const gw = $('gateway');
    gw.textContent = state.gateway;
    gw.href = state.gateway;
    $('layout').textContent = state.layout;
    drawFigures(state);
    drawCharts(state);
    drawGroups(state);
    drawEvents(state);
    drawProcesses(state);
  } catch (err) {
    $('updated').textContent = `console unreachable: ${err.message}`;
  }
}

function participantRows(name, p) {
  return p.entries.map((e) =>
    el(
      'tr',
      {},
      el('td', {}, name),
      el('td', {}, e.id),
      el('td', {}, e.amount),
      el('td', {}, p.state),
      el('td', {}, e.exists ? e.available : 'no such entry'),
      el('td', {}, e.exists ? e.held : '–'),
      el('td', {}, p.lastStepAt ? clock(p.lastStepAt) : '–'),
    ),
  );
}

function txCard(tx) {
  const cls = tx.decision === 'commit' ? 'commit' : tx.decision === 'abort' ? 'abort' : 'open';
  return el(
    'div',
    { class: `tx ${cls}`, 'data-tx': tx.id, 'data-decision': tx.decision, 'data-reason': tx.reason },
    el('div', {}, el('code', {}, tx.id), tx.current ? ' (current)' : '', tx.unfinished ? ' · unfinished' : '', tx.parked ? ' · parked' : ''),
    el('div', { class: 'verdict' }, tx.verdict),
    el('ol', { class: 'steps' }, tx.steps.map((s) => el('li', {}, `${s.at ? new Date(s.at).toLocaleString([], { hour12: false }) : '(time unknown)'}  ${s.what}`))),
    el(
      'table',
      { class: 'grid holds' },
      el('thead', {}, el('tr', {}, ['at', 'entry', 'amount', 'T’s state there', 'available now', 'held now (all checkouts)', 'last step'].map((h) => el('th', {}, h)))),
      el('tbody', {}, participantRows('stock', tx.stock), participantRows('payment', tx.payment)),
    ),
  );
}

async function inspect(orderId) {
  const out = $('inspect-result');
  out.replaceChildren(el('p', { class: 'muted' }, `reading order ${orderId}…`));
  try {
    const res = await fetch(`/api/order/${encodeURIComponent(orderId)}`, { cache: 'no-store' });
    const v = await res.json();
    if (!res.ok) return out.replaceChildren(el('p', { class: 'down' }, v.error || `answered ${res.status}`));
    if (!v.exists) return out.replaceChildren(el('p', { id: 'inspect-summary', 'data-exists': 'false' }, `No order ${orderId}.`));
    const o = v.order;
    out.replaceChildren(
      el(
        'p',
        { id: 'inspect-summary', 'data-exists': 'true', 'data-paid': String(o.paid) },
        `Order ${v.orderId}: user ${o.userId}, total ${o.totalCost}, ${o.paid ? 'PAID' : 'not paid'}, ${o.items.length} line(s)`,
        o.inCheckout ? `, being checked out by ${o.inCheckout}` : '',
        `. ${v.transactions.length} checkout transaction(s), newest first.`,
      ),
      ...(v.note ? [el('p', { class: 'muted' }, v.note)] : []),
      ...v.transactions.map(txCard),
    );
  } catch (err) {
    out.replaceChildren(el('p', { class: 'down' }, `could not read: ${err.message}`));
  }
}

async function pollUnfinished() {
  const box = $('unfinished');
  try {
    const res = await fetch('/api/unfinished', { cache: 'no-store' });
    const u = await res.json();
    if (!res.ok) throw new Error(u.error || `answered ${res.status}`);
    const summary = el('p', { id: 'unfinished-summary', 'data-total': u.total }, `${u.total} unfinished, ${u.parked} parked.`);
    if (u.transactions.length === 0) return box.replaceChildren(summary);
    box.replaceChildren(
      summary,
      el(
        'table',
        { class: 'grid' },
        el('thead', {}, el('tr', {}, ['transaction', 'order', 'begun', 'decision', 'failures', 'recovered by'].map((h) => el('th', {}, h)))),
        el(
          'tbody',
          {},
          u.transactions.map((t) => {
            const link = el('a', { href: '#' }, t.orderId ?? '?');
            link.addEventListener('click', (ev) => {
              ev.preventDefault();
              if (t.orderId) {
                $('order-id').value = t.orderId;
                void inspect(t.orderId);
              }
            });
            return el(
              'tr',
              {},
              el('td', {}, el('code', {}, t.id)),
              el('td', {}, link),
              el('td', {}, t.startedAt ? clock(t.startedAt) : '–'),
              el('td', {}, t.decision ? `${t.decision}${t.reason ? ` (${t.reason})` : ''}` : 'undecided'),
              el('td', {}, `${t.failures}${t.parked ? ' (parked)' : ''}`),
              el('td', {}, t.recoveredBy ?? '–'),
            );
          }),
        ),
      ),
    );
  } catch (err) {
    box.replaceChildren(el('p', { class: 'down' }, `could not read: ${err.message}`));
  }
}

function init() {
  charts.checkouts = lineChart($('chart-checkouts'), 'per second');
  charts.latency = lineChart($('chart-latency'), 'ms');
  charts.requests = lineChart($('chart-requests'), 'per second');
  charts.tx = lineChart($('chart-tx'), 'count');
  $('inspect-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('order-id').value.trim();
    if (id) {
      window.history.replaceState(null, '', `#order=${encodeURIComponent(id)}`);
      void inspect(id);
    }
  });
  const linked = /^#order=(.+)$/.exec(window.location.hash);
  if (linked) {
    $('order-id').value = decodeURIComponent(linked[1]);
    void inspect($('order-id').value);
  }
  void poll();
  setInterval(poll, 1000);
  void pollUnfinished();
  setInterval(pollUnfinished, 5000);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
