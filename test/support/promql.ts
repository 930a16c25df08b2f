/**
 * Checks PromQL queries against a real /metrics exposition: every metric they select is
 * exported (or made by Prometheus itself), every label they match or group by exists on
 * what they select, and every exact label value they match was seen. A small reader for
 * the query shapes a dashboard uses (selectors, functions, `by (...)`), not a PromQL parser.
 */

/** Sample name → label name → values seen. */
export type Exposition = Map<string, Map<string, Set<string>>>;

/** Series Prometheus records itself for every scrape target, and the labels it adds to all. */
const PROMETHEUS_MADE = new Map([['up', ['job', 'instance']]]);
const TARGET_LABELS = ['job', 'instance'];

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Adds the samples of one Prometheus text exposition to `into`. */
export function readExposition(text: string, into: Exposition = new Map()): Exposition {
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (m === null || line.startsWith('#')) continue;
    const labels = into.get(m[1] ?? '') ?? new Map<string, Set<string>>();
    into.set(m[1] ?? '', labels);
    for (const [, name = '', value = ''] of (m[2] ?? '').matchAll(LABEL)) {
      const seen = labels.get(name) ?? new Set<string>();
      seen.add(value);
      labels.set(name, seen);
    }
  }
  return into;
}

/** Words of PromQL that are not metric names where the dashboard uses them. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset']);
const SELECTOR = /([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g;
const MATCHER = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g;

/** What is wrong with one query against the exposition: empty when nothing is. */
export function checkQuery(expr: string, exported: Exposition): string[] {
  const problems: string[] = [];
  const labelsOf = (metric: string): Map<string, Set<string>> | undefined => {
    const made = PROMETHEUS_MADE.get(metric);
    if (made !== undefined) return new Map(made.map((l) => [l, new Set<string>()]));
    return exported.get(metric);
  };
  const hasLabel = (metric: string, label: string): boolean => TARGET_LABELS.includes(label) || labelsOf(metric)?.has(label) === true;

  // Grouping lists first: their words are labels, not metrics.
  const grouping = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(',').map((l) => l.trim()));
  let rest = expr.replace(/\b(by|without)\s*\([^)]*\)/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  const metrics: string[] = [];
  for (const m of rest.matchAll(SELECTOR)) {
    const metric = m[1];
    if (metric === undefined) {
      problems.push(`a selector without a metric name: {${m[2]}}`);
      continue;
    }
    metrics.push(metric);
    for (const [, label = '', op, value = ''] of (m[2] ?? '').matchAll(MATCHER)) {
      if (!hasLabel(metric, label)) problems.push(`${metric} has no label ${label}`);
      else if (op === '=' && !PROMETHEUS_MADE.has(metric) && !TARGET_LABELS.includes(label) && labelsOf(metric)?.get(label)?.has(value) !== true) {
        problems.push(`${metric}{${label}="${value}"} was never exported (seen: ${[...(labelsOf(metric)?.get(label) ?? [])].join(', ')})`);
      }
    }
  }
  rest = rest.replace(SELECTOR, ' ');
  for (const m of rest.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)) {
    const word = m[1] ?? '';
    // A word before "(" is a function or an aggregation; numbers never match the pattern.
    if (m[2] === undefined && !KEYWORDS.has(word)) metrics.push(word);
  }
  for (const metric of metrics) if (labelsOf(metric) === undefined) problems.push(`${metric} is not exported`);
  for (const label of grouping) {
    if (!metrics.some((metric) => hasLabel(metric, label))) problems.push(`no selected metric has the label ${label} it groups by`);
  }
  return problems;
}
