/**
 * nginx.conf for the gateway: the one public door of the system.
 *
 * It forwards exactly the routes of API.md (method checked, service prefix stripped) and
 * answers everything else itself, always with a JSON body. Internal ports (participant
 * steps, /health, /metrics) are never an upstream, so they cannot be reached through it.
 */
import { ERRORS } from '@shop/common/errors.js';
import { TIMING } from '@shop/common/timing.js';
import { SERVICES, type Topology } from './topology.js';
import { PREFIX, ROUTES, publicPathRegex, type Route } from './routes.js';

/**
 * Errors nginx produces itself, from the one registry (entries marked `gateway`); upstream
 * answers pass through untouched. `status` is what nginx raises, `answer` what the client gets.
 */
const NGINX_ERRORS: readonly { status: number; answer: number; code: string; error: string }[] = Object.entries(ERRORS).flatMap(
  ([code, e]) => ('gateway' in e ? [{ status: 'nginxStatus' in e ? e.nginxStatus : e.status, answer: e.status, code, error: e.message }] : []),
);

/** Limits sized for a 2-core machine shared with everything else, and 1,000+ clients. */
export const GATEWAY_LIMITS = {
  workerProcesses: 1,
  workerConnections: 8192,
  upstreamKeepalive: 256,
  /** The API has no request bodies; clients send at most an empty one or "{}". */
  clientMaxBodySize: '256',
  largeHeaderBuffers: '4 4k',
  clientTimeoutS: 10,
  /** A body trickled a byte at a time holds a connection at most this long between bytes. */
  clientBodyTimeoutS: 5,
  /**
   * Open connections per client address. Generous: a benchmark's thousand users all come
   * from one address. It bounds what one address can hold, not how fast it may ask.
   */
  connectionsPerAddress: 4096,
  connectTimeoutS: TIMING.gateway.connectTimeoutS,
  checkoutTries: TIMING.gateway.checkoutTries,
} as const;

/** Prefix of the internal error-page locations; `internal` keeps clients out of them. */
const ERROR_URI = '/__gateway_error/';

function json(error: string, code: string): string {
  // nginx single-quoted strings: only ' and \ need escaping, and our texts have neither.
  return `'${JSON.stringify({ error, code })}'`;
}

/**
 * Each service has two upstreams over the same replicas. In both, the first replica is the
 * active one and the others are `backup`: nginx sends a call to a backup only when the
 * active replica failed it (refused, errored, timed out) or is marked failed. One busy
 * replica per service lets the checkouts of every client meet in one process's batches
 * (docs/measurements.md, "One active replica per service"); the standby takes over at the
 * first failure, as the other round-robin replica did before.
 *
 * The upstreams differ in what marks a replica failed. On `<service>_replicas` a call that
 * errs or times out marks its replica failed, skipped for TIMING.gateway.failTimeoutS; nginx
 * then sends it calls again. Calls that may
 * legitimately wait long (a checkout waiting for other checkouts' holds, a subtract waiting
 * for holds, batch_init) go to `<service>_waiting`, where a backup is never marked failed:
 * one slow checkout must never make the gateway refuse other clients' calls with "no live
 * upstreams" (502). Its active replica is marked failed like any other, so a paused one
 * costs the calls already sent to it and those of the next read timeout, not every call
 * for as long as it is paused.
 */
function upstreamName(service: string, waits: boolean): string {
  return `${service}_${waits ? 'waiting' : 'replicas'}`;
}

/**
 * The last resort of a re-sendable call: every replica, none ever marked failed. A checkout
 * is sent here once more when nginx would otherwise answer it 5xx though its outcome can
 * still be learned:
 * - 502, "no live upstreams": a replica marked failed (paused a moment ago, for instance)
 *   may be back while the one left dies, for up to `failTimeoutS`;
 * - 504, every replica it was sent to kept it past the read timeout: faults back to back
 *   can outlast two read timeouts (an order primary paused 8 s, its resync, then a
 *   participant's failover: 12.8 s in a chaos run), while the transaction's drivers keep
 *   going (TIMING.checkoutBudgetMs) and a re-sent call joins them.
 */
const TO_LAST_RESORT: readonly number[] = [502, 504];
const lastResortName = (service: string): string => `${service}_last_resort`;
const resendableServices = (): string[] => [...new Set(ROUTES.filter((r) => r.resendable).map((r) => r.service))];

function upstreams(t: Topology): string[] {
  const out: string[] = [];
  for (const s of SERVICES) {
    for (const waits of [false, true]) {
      out.push(`  upstream ${upstreamName(s, waits)} {`);
      t.services
        .filter((x) => x.service === s)
        .forEach((r, i) => {
          const standby = i > 0;
          const failure = waits && standby ? 'max_fails=0' : `max_fails=1 fail_timeout=${TIMING.gateway.failTimeoutS}s`;
          out.push(`    server ${r.host}:${r.publicPort} ${failure}${standby ? ' backup' : ''};`);
        });
      out.push(...upstreamEnd());
    }
    if (resendableServices().includes(s)) {
      out.push(`  upstream ${lastResortName(s)} {`);
      for (const r of t.services.filter((x) => x.service === s)) out.push(`    server ${r.host}:${r.publicPort} max_fails=0;`);
      out.push(...upstreamEnd());
    }
  }
  return out;
}

/** The keepalive settings every upstream shares, and its closing brace. */
function upstreamEnd(): string[] {
  return [`    keepalive ${GATEWAY_LIMITS.upstreamKeepalive};`, '    keepalive_requests 100000;', '    keepalive_timeout 60s;', '  }'];
}

function location(r: Route): string[] {
  const allowed = r.method === 'GET' ? 'GET|HEAD' : r.method;
  const lines = [
    `    location ~ "${publicPathRegex(r)}" {`,
    `      if ($request_method !~ ^(${allowed})$) {`,
    `        add_header Allow "${r.method}" always;`,
    `        return 405 ${json(`method not allowed; use ${r.method}`, 'METHOD_NOT_ALLOWED')};`,
    '      }',
    `      rewrite ^${PREFIX[r.service]}(/.*)$ $1 break;`,
    `      proxy_read_timeout ${r.readTimeoutS}s;`,
    `      proxy_send_timeout ${r.readTimeoutS}s;`,
  ];
  if (r.resendable) {
    // Idempotent by order id: a replica that failed, answered 502/503 or hung past the
    // timeout gets the same call re-sent to another one; nginx's own 502 (no replica
    // reached) and 504 (every replica timed out) send it to the last resort. An error_page
    // here replaces the server's, so the others are repeated.
    lines.push(
      '      proxy_next_upstream error timeout http_502 http_503 non_idempotent;',
      `      proxy_next_upstream_tries ${GATEWAY_LIMITS.checkoutTries};`,
      ...NGINX_ERRORS.filter((e) => !TO_LAST_RESORT.includes(e.status)).map((e) => `      error_page ${e.status} ${ERROR_URI}${e.status};`),
      `      error_page ${TO_LAST_RESORT.join(' ')} = @${lastResortName(r.service)};`,
    );
  }
  lines.push(`      proxy_pass http://${upstreamName(r.service, r.waits)};`, '    }');
  return lines;
}

/**
 * Error pages are internal URI locations, not named ones: nginx cannot redirect a request
 * whose request line it failed to parse (400, 414) to a named location ("empty URI").
 */
function lastResortLocations(t: Topology): string[] {
  return resendableServices().flatMap((service) => {
    const route = ROUTES.find((r) => r.service === service && r.resendable);
    return [
      `    location @${lastResortName(service)} {`,
      '      # Its own 502 or 504 goes on to the JSON error page: a second redirect.',
      '      recursive_error_pages on;',
      `      proxy_read_timeout ${route?.readTimeoutS ?? TIMING.gateway.readTimeoutS}s;`,
      `      proxy_send_timeout ${route?.readTimeoutS ?? TIMING.gateway.readTimeoutS}s;`,
      '      proxy_next_upstream error timeout http_502 http_503 non_idempotent;',
      `      proxy_next_upstream_tries ${t.services.filter((x) => x.service === service).length};`,
      `      proxy_pass http://${lastResortName(service)};`,
      '    }',
    ];
  });
}

function errorPages(): string[] {
  const out: string[] = [];
  for (const e of NGINX_ERRORS) {
    out.push(`    error_page ${e.status} ${ERROR_URI}${e.status};`);
  }
  for (const e of NGINX_ERRORS) {
    out.push(
      `    location = ${ERROR_URI}${e.status} {`,
      '      internal;',
      `      return ${e.answer} ${json(e.error, e.code)};`,
      '    }',
    );
  }
  return out;
}

export function nginxConfig(t: Topology): string {
  const g = t.gateway;
  const docker = t.target === 'docker';
  const tmp = (name: string): string => `${g.prefix}/${name}`;
  const lines = [
    '# Generated by packages/launcher/src/nginx.ts from the topology: edit the generator, not this file.',
    ...(t.runAsRoot && !docker ? ['user root;'] : []),
    `worker_processes ${GATEWAY_LIMITS.workerProcesses};`,
    `worker_rlimit_nofile ${GATEWAY_LIMITS.workerConnections * 2};`,
    'daemon off;',
    `pid ${g.pidFile};`,
    `error_log ${g.errorLog} warn;`,
    '',
    'events {',
    `  worker_connections ${GATEWAY_LIMITS.workerConnections};`,
    '  multi_accept on;',
    '}',
    '',
    'http {',
    '  access_log off;',
    '  server_tokens off;',
    '  default_type application/json;',
    '',
    `  client_body_temp_path ${tmp('client_body_temp')};`,
    `  proxy_temp_path ${tmp('proxy_temp')};`,
    `  fastcgi_temp_path ${tmp('fastcgi_temp')};`,
    `  uwsgi_temp_path ${tmp('uwsgi_temp')};`,
    `  scgi_temp_path ${tmp('scgi_temp')};`,
    '',
    '  # The API has no request bodies and short URIs: refuse big ones early.',
    `  client_max_body_size ${GATEWAY_LIMITS.clientMaxBodySize};`,
    `  client_body_buffer_size ${GATEWAY_LIMITS.clientMaxBodySize};`,
    '  client_header_buffer_size 1k;',
    `  large_client_header_buffers ${GATEWAY_LIMITS.largeHeaderBuffers};`,
    `  client_header_timeout ${GATEWAY_LIMITS.clientTimeoutS}s;`,
    `  client_body_timeout ${GATEWAY_LIMITS.clientBodyTimeoutS}s;`,
    `  send_timeout ${GATEWAY_LIMITS.clientTimeoutS}s;`,
    '  keepalive_timeout 65s;',
    '  keepalive_requests 100000;',
    '  reset_timedout_connection on;',
    "  # '/stock/add//1' must reach the service as it is (a 400 for the empty id), not as '/stock/add/1'.",
    '  merge_slashes off;',
    '  limit_conn_zone $binary_remote_addr zone=per_address:10m;',
    `  limit_conn per_address ${GATEWAY_LIMITS.connectionsPerAddress};`,
    '  limit_conn_status 429;',
    '  limit_conn_log_level warn;',
    '',
    '  # Reuse upstream connections: without these nginx opens one per request.',
    '  proxy_http_version 1.1;',
    '  proxy_set_header Connection "";',
    '  # Not $host: a Host-less HTTP/1.0 request would reach the service without one (empty 400).',
    '  proxy_set_header Host $proxy_host;',
    '  proxy_set_header X-Request-Id $request_id;',
    '  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    `  proxy_connect_timeout ${GATEWAY_LIMITS.connectTimeoutS}s;`,
    '  # A POST that was sent is never re-sent (no non_idempotent) except on the checkout route.',
    '  proxy_next_upstream error timeout;',
    '  proxy_intercept_errors off;',
    '',
    ...upstreams(t),
    '',
    '  server {',
    docker ? `    listen ${g.port} backlog=4096;` : `    listen ${g.host}:${g.port} backlog=4096;`,
    '',
    ...errorPages(),
    '',
    ...ROUTES.flatMap(location),
    ...lastResortLocations(t),
    '',
    '    location / {',
    `      return 404 ${json('no such route', 'NOT_FOUND')};`,
    '    }',
    '  }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}
