/** A small line-chart writer: enough for throughput and latency over time, no dependency. */

export interface Series {
  name: string;
  points: [number, number | undefined][];
  /** Dashed, for a comparison run drawn over the main one. */
  dashed?: boolean;
  /** Stroke colour; default: the next of PALETTE. */
  color?: string;
  /** SVG stroke-dasharray ('' = solid); default: solid for the first PALETTE.length series, then DASHES in turn. */
  dash?: string;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Log scale on y (latency spans orders of magnitude). */
  logY?: boolean;
  width?: number;
  height?: number;
}

/** Ten colours told apart easily (Tableau 10); light variants of them were not. */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
/** Past ten series the colours repeat, each round with its own dash pattern. */
const DASHES = ['', '7 3', '2 3', '9 3 2 3'];
const DASHED = '6 4';

/** The colour and dash pattern a series is drawn with: distinct for every series of a chart. */
export function seriesStyle(s: Series, i: number): { color: string; dash: string } {
  return {
    color: s.color ?? PALETTE[i % PALETTE.length]!,
    dash: s.dash ?? (s.dashed === true ? DASHED : DASHES[Math.floor(i / PALETTE.length) % DASHES.length]!),
  };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v: number): string {
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toPrecision(3)}k`;
  return Number(v.toPrecision(3)).toString();
}

export function lineChart(c: Chart): string {
  const W = c.width ?? 760;
  const H = c.height ?? 340;
  const m = { l: 64, r: 160, t: 32, b: 44 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const defined = c.series.flatMap((s) => s.points.filter((p): p is [number, number] => p[1] !== undefined && Number.isFinite(p[1])));
  const xs = defined.map((p) => p[0]);
  const ys = defined.map((p) => p[1]).filter((y) => !c.logY || y > 0);
  const xMin = Math.min(0, ...xs);
  const xMax = Math.max(1, ...xs);
  let yMin = c.logY ? Math.min(...ys, 1) : 0;
  let yMax = Math.max(...ys, c.logY ? 10 : 1);
  if (c.logY) {
    yMin = 10 ** Math.floor(Math.log10(yMin));
    yMax = 10 ** Math.ceil(Math.log10(yMax));
  } else {
    // Round the top up to the tick after the highest point, so no line leaves the plot.
    const t = ticks(0, yMax * 1.05);
    const step = t.length > 1 ? t[1]! - t[0]! : yMax;
    yMax = Math.ceil((yMax * 1.05) / step) * step;
  }
  const fy = (y: number): number => (c.logY ? Math.log10(y) : y);
  const X = (x: number): number => m.l + ((x - xMin) / (xMax - xMin)) * pw;
  const Y = (y: number): number => m.t + ph - ((fy(y) - fy(yMin)) / (fy(yMax) - fy(yMin) || 1)) * ph;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="18" font-size="13" font-weight="bold">${esc(c.title)}</text>`,
  ];
  const yTicks = c.logY
    ? Array.from({ length: Math.round(Math.log10(yMax / yMin)) + 1 }, (_, i) => yMin * 10 ** i)
    : ticks(yMin, yMax);
  for (const t of yTicks) {
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of ticks(xMin, xMax, 8)) {
    out.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${X(t)}" y="${m.t + ph + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);

  c.series.forEach((s, i) => {
    const style = seriesStyle(s, i);
    const color = style.color;
    // A gap in the data (an unanswered scrape) breaks the line instead of bridging it.
    const segments: string[] = [];
    let d = '';
    for (const [x, y] of s.points) {
      if (y === undefined || !Number.isFinite(y) || (c.logY && y <= 0)) {
        if (d !== '') segments.push(d);
        d = '';
        continue;
      }
      d += `${d === '' ? 'M' : 'L'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`;
    }
    if (d !== '') segments.push(d);
    const dash = style.dash === '' ? '' : ` stroke-dasharray="${style.dash}"`;
    for (const seg of segments) out.push(`<path d="${seg}" fill="none" stroke="${color}" stroke-width="1.8"${dash}/>`);
    const ly = m.t + 8 + i * 16;
    out.push(`<line x1="${m.l + pw + 10}" x2="${m.l + pw + 30}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${m.l + pw + 34}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
