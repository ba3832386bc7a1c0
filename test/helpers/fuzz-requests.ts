// Generated requests for every HTTP edge of the engine, as fast-check
// arbitraries: random and mutated bodies and query strings for remote_write,
// JSON push, exposition import, range, the Prometheus API, utilisation, the SLA API and
// the autoscaler's decisions. Shared by the property tests (a few hundred
// each, through app.inject) and bench/fuzz.ts (100,000 over real HTTP).
import fc from 'fast-check';
import snappy from 'snappy';
import { encodeWriteRequestProto, type WriteSeries } from '../../collector/remote-write-encode.ts';

export interface FuzzRequest {
  /** Which edge, for counting: e.g. "remote_write". */
  readonly endpoint: string;
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly payload?: string | Buffer;
}

const NOW_S = Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------
// Building blocks: values chosen to sit on and beyond the edges.

/** Numbers around every bound the engine has: time units, retention, DateTime64, safe integers. */
export const edgeNumber = fc.oneof(
  fc.constantFrom(0, -1, 1, 0.5, -0.5, 1e3, 1e11, 1e12, 1e15, 1e300, -1e300, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 32, 2 ** 63, 32503680000, 7258118400, 86400 * 31),
  fc.constantFrom(NOW_S, NOW_S - 60, NOW_S - 16 * 86400, NOW_S + 3600, NOW_S * 1000, (NOW_S - 60) * 1000),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Strings with what breaks parsers: quotes, escapes, newlines, NUL, lone surrogates, regex syntax, SQL. */
export const edgeString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', '"', '\\', '\n', '\u0000', '\ud800', '\udfff', '\ud83d\ude00', "'; DROP TABLE x; --", '{', '}', '=', '=~', '!~', ',', '__name__', 'NaN', '+Inf', '-Inf', 'null', '1e15'),
  fc.constantFrom('(?n)node', '(n)\\1', 'a{1001}', '(a{1000}){1000}', 'a(?=b)', '(', ')', '[', '*', 'a**', '\\C', '\\p{Nope}', '.*', 'web-.*', '(?i)x', '\\pL{1000}', '(\\pL{100}){10}', '\\pL{1000}\\pL{1000}\\pL{1000}'),
  fc.constantFrom('2026-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '2026-02-30T00:00:00Z', '2026-13', '2026-01', 'now', '15m', '1h', '0s', '-5m', '1e300s', '999999999w'),
);

/** Any JSON value of a bounded size. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: edgeNumber },
  { weight: 1, arbitrary: edgeString },
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function paths(value: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

function setAt(root: Json, path: (string | number)[], replacement: Json | undefined): Json {
  if (path.length === 0) return replacement === undefined ? null : replacement;
  let parent: Json = root;
  for (const p of path.slice(0, -1)) parent = (parent as Record<string, Json>)[p as string]!;
  const last = path[path.length - 1]!;
  if (replacement === undefined) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete (parent as Record<string, Json>)[last as string];
  } else (parent as Record<string, Json>)[last as string] = replacement;
  return root;
}

/** A valid JSON document with up to three of its parts replaced by edge values or removed (none now and then: the valid path runs too). */
export function mutatedJson(base: unknown): fc.Arbitrary<unknown> {
  const all = paths(base as Json);
  const edits = fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 6, arbitrary: fc.array(fc.tuple(fc.nat(), fc.option(anyJson, { freq: 5 })), { minLength: 1, maxLength: 3 }) });
  return edits.map((edits) => {
    let doc = structuredClone(base) as Json;
    for (const [i, v] of edits) {
      const candidates = paths(doc);
      const path = candidates[i % candidates.length] ?? all[0]!;
      doc = setAt(doc, path, v === null ? undefined : (v as Json));
    }
    return doc;
  });
}

const labelName = fc.oneof(fc.constantFrom('__name__', 'job', 'instance', 'pod', 'namespace', 'le', 'container', 'mode'), fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/), edgeString);
const metricName = fc.oneof(fc.constantFrom('fuzz_metric', 'up', 'node_cpu_seconds_total', 'container_cpu_usage_seconds_total'), fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,10}$/), edgeString);
const sampleValue = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0));
const timestampMs = fc.oneof(fc.integer({ min: (NOW_S - 3600) * 1000, max: NOW_S * 1000 }), edgeNumber.map((n) => Math.trunc(n)));

// ---------------------------------------------------------------------------
// remote_write

const RW_HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' };

const writeSeries: fc.Arbitrary<WriteSeries> = fc.record({
  labels: fc.array(fc.tuple(labelName, fc.oneof(metricName, edgeString)), { maxLength: 5 }).map((pairs) => [['__name__', 'fuzz_rw'] as [string, string], ...pairs]),
  samples: fc.array(fc.record({ value: sampleValue, timestamp: timestampMs }), { maxLength: 4 }),
});

function safeProto(series: WriteSeries[]): Uint8Array {
  try {
    return encodeWriteRequestProto(series);
  } catch {
    // protobufjs refuses some numbers (e.g. beyond int64); send an empty request instead.
    return new Uint8Array(0);
  }
}

/** Byte-level mutations of a buffer: flips, inserts, deletes, truncation. */
function mutatedBytes(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(base, fc.array(fc.tuple(fc.constantFrom('flip', 'insert', 'delete', 'truncate'), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
    .map(([bytes, edits]) => {
      let b = Array.from(bytes);
      for (const [op, at, byte] of edits) {
        const i = b.length === 0 ? 0 : at % b.length;
        if (op === 'flip' && b.length) b[i] = b[i]! ^ (1 << (byte % 8));
        else if (op === 'insert') b.splice(i, 0, byte);
        else if (op === 'delete') b.splice(i, 1);
        else b = b.slice(0, i);
      }
      return Buffer.from(b);
    });
}

const validProto = fc.array(writeSeries, { maxLength: 4 }).map(safeProto);

export const remoteWriteRequest: fc.Arbitrary<FuzzRequest> = fc
  .oneof(
    // Structurally valid requests with edge labels, values and timestamps.
    validProto.map((p) => snappy.compressSync(Buffer.from(p))),
    // Mutated protobuf, then compressed: reaches the protobuf decoder.
    mutatedBytes(validProto).map((p) => snappy.compressSync(p)),
    // Mutated snappy frames and raw protobuf sent without compression.
    mutatedBytes(validProto.map((p) => snappy.compressSync(Buffer.from(p)))),
    validProto.map((p) => Buffer.from(p)),
    fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
    fc.uint8Array({ maxLength: 256 }).map((b) => snappy.compressSync(Buffer.from(b))),
  )
  .chain((payload) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(RW_HEADERS) },
      { weight: 1, arbitrary: fc.record({ 'content-type': fc.constantFrom('application/x-protobuf', 'application/x-protobuf;proto=io.prometheus.write.v2.Request', 'application/json', 'text/plain'), 'content-encoding': fc.constantFrom('snappy', 'gzip', 'identity') }) },
    ).map((headers) => ({ endpoint: 'remote_write', method: 'POST' as const, url: '/api/v1/write', headers, payload }))
  );

// ---------------------------------------------------------------------------
// JSON push

const pushSeries = fc.record({
  labels: fc.dictionary(labelName, fc.oneof(metricName, edgeString), { maxKeys: 4 }).map((l) => ({ __name__: 'fuzz_push', ...l })),
  samples: fc.array(fc.tuple(fc.oneof(fc.integer({ min: NOW_S - 3600, max: NOW_S }), edgeNumber), fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('NaN', '+Inf', '-Inf', '1.5e3', 'lots', ''))), { minLength: 1, maxLength: 4 }),
});

const validPush = fc.array(pushSeries, { minLength: 1, maxLength: 3 }).map((series) => ({ series }));
const JSON_HEADERS = { 'content-type': 'application/json' };

function jsonText(v: unknown): string {
  return JSON.stringify(v) ?? 'null';
}

export const pushRequest: fc.Arbitrary<FuzzRequest> = fc
  .oneof(
    validPush.map(jsonText),
    validPush.chain((p) => mutatedJson(p)).map(jsonText),
    anyJson.map(jsonText),
    // Raw text: broken JSON, lone surrogate escapes.
    fc.oneof(fc.string({ maxLength: 80 }), validPush.map((p) => jsonText(p).replace('fuzz_push', 'fuzz\\ud800push')), validPush.map((p) => jsonText(p).slice(0, 20))),
  )
  .map((payload) => ({ endpoint: 'push', method: 'POST' as const, url: '/api/v1/push', headers: JSON_HEADERS, payload }));

// ---------------------------------------------------------------------------
// Exposition import

const expositionLine = fc.oneof(
  fc
    .tuple(metricName, fc.array(fc.tuple(labelName, edgeString), { maxLength: 3 }), fc.oneof(sampleValue.map(String), edgeString), fc.option(fc.oneof(timestampMs.map(String), edgeString)))
    .map(([name, labels, value, ts]) => `${name}${labels.length ? `{${labels.map(([k, v]) => `${k}="${v}"`).join(',')}}` : ''} ${value}${ts === null ? '' : ` ${ts}`}`),
  fc.tuple(fc.constantFrom('HELP', 'TYPE', 'UNIT'), metricName, fc.oneof(fc.constantFrom('counter', 'gauge', 'histogram', 'summary', 'untyped', 'info'), edgeString)).map(([k, n, r]) => `# ${k} ${n} ${r}`),
  fc.constantFrom('# EOF', '', '#', 'x{', 'x{a="1"', 'x 1 2 3', 'x{a="\\', 'x{__name__="y"} 1', 'x # {a="b"} 1'),
  edgeString,
);

export const importRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.oneof(fc.array(expositionLine, { maxLength: 6 }).map((lines) => Buffer.from(lines.join('\n') + '\n')), fc.uint8Array({ maxLength: 128 }).map((b) => Buffer.from(b))),
    fc.constantFrom('text/plain', 'text/plain; version=0.0.4', 'application/openmetrics-text; version=1.0.0', 'application/json'),
    fc.option(fc.array(fc.oneof(fc.constant('env=fuzz'), edgeString), { maxLength: 2 })),
  )
  .map(([payload, contentType, extra]) => ({
    endpoint: 'import',
    method: 'POST' as const,
    url: `/api/v1/import/prometheus${extra ? `?${new URLSearchParams(extra.map((e): [string, string] => ['extra_label', e]))}` : ''}`,
    headers: { 'content-type': contentType },
    payload,
  }));

// ---------------------------------------------------------------------------
// Query API: every parameter random, or near-valid.

const matcherText = fc.oneof(
  fc.tuple(labelName, fc.constantFrom('=', '!=', '=~', '!~'), edgeString).map(([n, op, v]) => `${n}${op}${v}`),
  fc.tuple(labelName, fc.constantFrom('=', '!=', '=~', '!~'), edgeString).map(([n, op, v]) => `${n}${op}"${v}"`),
  edgeString,
);

function queryString(params: [string, string][]): string {
  return new URLSearchParams(params).toString();
}

const optionalParam = (name: string, value: fc.Arbitrary<string>): fc.Arbitrary<[string, string][]> => fc.option(value, { freq: 2 }).map((v) => (v === null ? [] : [[name, v] as [string, string]]));

export const rangeGetRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    optionalParam('metric', fc.oneof(fc.constant('fuzz_push'), metricName)),
    fc.array(matcherText, { maxLength: 3 }).map((ms) => ms.map((m) => ['match', m] as [string, string])),
    optionalParam('fn', fc.oneof(fc.constantFrom('avg', 'min', 'max', 'sum', 'count', 'last', 'rate', 'p50', 'p99', 'median'), edgeString)),
    optionalParam('by', fc.oneof(fc.constantFrom('job', 'pod,namespace', '__name__'), edgeString)),
    optionalParam('since', fc.oneof(fc.constantFrom('5m', '1h', '30d'), edgeString, edgeNumber.map(String))),
    optionalParam('start', fc.oneof(edgeNumber.map(String), edgeString)),
    optionalParam('end', fc.oneof(edgeNumber.map(String), edgeString)),
    optionalParam('step', fc.oneof(fc.constantFrom('15s', '60s', '1h', '0.5', '1.5'), edgeString, edgeNumber.map(String))),
  )
  .map((parts) => ({ endpoint: 'range', method: 'GET' as const, url: `/api/v1/range?${queryString(parts.flat())}`, headers: {} }));

const validRangeBody = { metric: 'fuzz_push', matchers: [{ name: 'job', op: '=~', value: 'a.*' }], fn: 'avg', by: ['job'], start: NOW_S - 600, end: NOW_S, step: 60 };

export const rangePostRequest: fc.Arbitrary<FuzzRequest> = fc
  .oneof(mutatedJson(validRangeBody), anyJson)
  .map((body) => ({ endpoint: 'range_post', method: 'POST' as const, url: '/api/v1/range', headers: JSON_HEADERS, payload: jsonText(body) }));

/** Series selectors and PromQL: valid ones, near misses and noise. */
const selectorText = fc.oneof(
  fc.constantFrom('fuzz_push', '{job="a"}', 'fuzz_push{pod=~"p.*"}', '{__name__=~"fuzz.*"}', '{}', '{job=""}', 'up{', 'rate(up[5m])', '{job=~"("}', '{"fuzz_push"}', 'x{a="\\xZZ"}'),
  fc.tuple(metricName, labelName, fc.constantFrom('=', '!=', '=~', '!~'), edgeString).map(([m, n, op, v]) => `${m}{${n}${op}${JSON.stringify(v)}}`),
  edgeString,
);
const promqlText = fc.oneof(
  selectorText,
  fc.constantFrom('1+1', 'sum by (job) (rate(fuzz_push[5m]))', 'avg_over_time(fuzz_push[1h])', 'histogram_quantile(0.9, rate(x_bucket[5m]))', 'foo(', 'NaN', 'time()', '"a"', 'sum(x) by', '1 +', 'topk(2, fuzz_push)', 'fuzz_push offset -5m', 'fuzz_push @ 1e300', 'fuzz_push[5m:1m]'),
);
/** Prometheus times: float seconds, RFC 3339, ms (exemplars), and the edges. */
const promTime = fc.oneof(edgeNumber.map(String), edgeString, fc.constantFrom(String(NOW_S), String(NOW_S - 3600), '-292273086-05-16T16:47:06Z', '292277025-08-17T07:12:55.807Z'));
const promStep = fc.oneof(fc.constantFrom('15', '60s', '1m', '0', '-1', '1e300', '0.001', '1h30m', ''), edgeString, edgeNumber.map(String));

export const seriesRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.array(selectorText, { maxLength: 3 }).map((ms) => ms.map((m) => ['match[]', m] as [string, string])),
    optionalParam('start', promTime),
    optionalParam('end', promTime),
    optionalParam('limit', fc.oneof(edgeNumber.map(String), edgeString)),
  )
  .map((parts) => ({ endpoint: 'series', method: 'GET' as const, url: `/api/v1/series?${queryString(parts.flat())}`, headers: {} }));

const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded' };

/** The rest of the Prometheus API (metrics/prometheus-api/): queries, labels, exemplars, formatting; GET and form POSTs. */
export const prometheusApiRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.constantFrom('query', 'query_range', 'labels', 'label', 'query_exemplars', 'format_query', 'metadata', 'series'),
    fc.constantFrom('GET', 'POST'),
    optionalParam('query', promqlText),
    optionalParam('time', promTime),
    optionalParam('start', promTime),
    optionalParam('end', promTime),
    optionalParam('step', promStep),
    optionalParam('timeout', promStep),
    fc.array(selectorText, { maxLength: 2 }).map((ms) => ms.map((m) => ['match[]', m] as [string, string])),
    optionalParam('limit', fc.oneof(edgeNumber.map(String), edgeString)),
    fc.oneof(labelName, fc.constantFrom('__name__', 'job', 'b ad', '%', '')),
  )
  .map(([route, method, ...rest]) => {
    const labelNameText = rest.pop() as string;
    const params = queryString((rest as [string, string][][]).flat());
    const path = route === 'label' ? `/api/v1/label/${encodeURIComponent(labelNameText)}/values` : `/api/v1/${route}`;
    return method === 'GET'
      ? { endpoint: `prom_${route}`, method: 'GET' as const, url: `${path}?${params}`, headers: {} }
      : { endpoint: `prom_${route}`, method: 'POST' as const, url: path, headers: FORM_HEADERS, payload: params };
  });

export const utilisationRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(fc.constantFrom('nodes', 'pods', 'workloads'), optionalParam('since', fc.oneof(fc.constantFrom('5m', '1h'), edgeString, edgeNumber.map(String))), optionalParam('namespace', edgeString))
  .map(([what, since, ns]) => ({ endpoint: 'utilisation', method: 'GET' as const, url: `/api/v1/utilisation/${what}?${queryString([...since, ...ns])}`, headers: {} }));

// ---------------------------------------------------------------------------
// SLA

const isoTime = fc.oneof(fc.constantFrom('2026-10-01T00:00:00Z', '2026-10-31T00:00:00Z', '2026-11-01T00:00:00+02:00'), edgeString);
const validCompute = {
  period: { start: '2026-10-01T00:00:00Z', end: '2026-11-01T00:00:00Z' },
  commitment: 99.95,
  instances: [{ id: 'c1', outages: [{ start: '2026-10-02T00:00:00Z', end: '2026-10-02T01:00:00Z', cause: 'platform' }], charges: [{ start: '2026-10-01T00:00:00Z', end: '2026-11-01T00:00:00Z', amount: '100.00' }] }],
};
const validProbes = [{ cluster: 'c1', location: 'eu', timestamp: NOW_S * 1000, target: 'https://x/readyz', ok: true, latencyMs: 3, error: '' }];
const validExclusion = { cluster: 'c1', start: '2026-10-02T00:00:00Z', end: '2026-10-02T01:00:00Z', cause: 'maintenance', reason: 'planned', recordedBy: 'ops' };
const validCharges = [{ cluster: 'c1', item: 'control-plane', start: '2026-10-01T00:00:00Z', end: '2026-11-01T00:00:00Z', amount: '73.00' }];

function slaPost(endpoint: string, url: string, base: unknown): fc.Arbitrary<FuzzRequest> {
  return fc.oneof({ weight: 4, arbitrary: mutatedJson(base) }, { weight: 1, arbitrary: anyJson }).map((body) => ({ endpoint, method: 'POST' as const, url, headers: JSON_HEADERS, payload: jsonText(body) }));
}

export const slaRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  slaPost('sla_compute', '/api/v1/sla/compute', validCompute),
  slaPost('sla_probes', '/api/v1/sla/probes', validProbes),
  slaPost('sla_exclusions', '/api/v1/sla/exclusions', validExclusion),
  slaPost('sla_charges', '/api/v1/sla/charges', validCharges),
  fc
    .tuple(fc.constantFrom('availability', 'incidents', 'exclusions', 'reports'), optionalParam('month', fc.oneof(fc.constantFrom('2026-10', '2026-13', '0000-01', '9999-12'), edgeString)), optionalParam('cluster', edgeString))
    .map(([what, m, c]) => ({ endpoint: 'sla_get', method: 'GET' as const, url: `/api/v1/sla/${what}?${queryString([...m, ...c])}`, headers: {} })),
  fc
    .tuple(fc.oneof(fc.constantFrom('2026-10', '2026-13', '1900-01', '9999-12'), edgeString), optionalParam('version', fc.oneof(edgeNumber.map(String), edgeString)), optionalParam('format', fc.constantFrom('html', 'json')))
    .map(([month, v, f]) => ({ endpoint: 'sla_report', method: 'GET' as const, url: `/api/v1/sla/reports/${encodeURIComponent(month.replace(/\p{Cs}/gu, "\ufffd"))}?${queryString([...v, ...f])}`, headers: {} })),
  isoTime.map(() => ({ endpoint: 'sla_get', method: 'GET' as const, url: '/api/v1/sla/availability', headers: {} })),
);

// ---------------------------------------------------------------------------
// Autoscaler decisions

export const decisionsRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(optionalParam('policy', fc.oneof(fc.constantFrom('default/web', 'web'), edgeString)), optionalParam('kind', fc.oneof(fc.constantFrom('pod', 'node'), edgeString)), optionalParam('at', fc.oneof(edgeNumber.map(String), edgeString)), optionalParam('limit', fc.oneof(edgeNumber.map(String), edgeString)))
  .map((parts) => ({ endpoint: 'autoscale_decisions', method: 'GET' as const, url: `/api/v1/autoscale/decisions?${queryString(parts.flat())}`, headers: {} }));

// ---------------------------------------------------------------------------
// Loki query API (logs/logql/routes.ts): LogQL assembled from real fragments
// and edge strings, and every time, step, limit and direction parameter.

const logqlSelector = fc.oneof(
  fc.constantFrom('{app="web"}', '{namespace=~"shop|db"}', '{}', '{ }', '{app!="x", pod!~"a.*"}', '{__search__="10.1.2.3"}'),
  fc.tuple(labelName, fc.constantFrom('=', '!=', '=~', '!~'), edgeString).map(([n, op, v]) => `{${n}${op}${JSON.stringify(v)}}`),
  edgeString,
);
const logqlStage = fc.oneof(
  fc.tuple(fc.constantFrom('|=', '!=', '|~', '!~'), edgeString).map(([op, v]) => `${op} ${JSON.stringify(v)}`),
  fc.constantFrom('| json', '| logfmt', '| status >= 500', '| level="error"', '| took > 10ms', '| size < 1KB', '| line_format "{{.msg}}"', '| __error__=""', '| json a="b.c"', '|= "x" or "y"', '| pattern "<x>"', '| unwrap x', '| label_format who=app, tag="{{.pod}}-{{__line__}}"', '| drop pod', '| keep app', '| decolorize'),
  fc.tuple(labelName, fc.constantFrom('=', '!=', '=~', '!~', '>', '<=', '=='), fc.oneof(edgeString.map((v) => JSON.stringify(v)), edgeNumber.map(String))).map(([n, op, v]) => `| ${n} ${op} ${v}`),
  edgeString.map((v) => `| line_format ${JSON.stringify(v)}`),
  edgeString,
);
const logqlLog = fc.tuple(logqlSelector, fc.array(logqlStage, { maxLength: 4 })).map(([sel, stages]) => [sel, ...stages].join(' '));
const logqlRange = fc.oneof(fc.constantFrom('1m', '5m', '1h', '24h', '0s', '1ms', '999999999w', '1.5m'), edgeString);
const logqlQuery = fc.oneof(
  logqlLog,
  fc.tuple(fc.constantFrom('count_over_time', 'rate', 'bytes_over_time', 'bytes_rate', 'sum_over_time', 'absent_over_time'), logqlLog, logqlRange).map(([fn, log, r]) => `${fn}(${log} [${r}])`),
  fc
    .tuple(fc.constantFrom('sum', 'avg', 'max', 'count', 'topk(2,', 'bottomk(0,', 'stddev'), fc.constantFrom('', ' by (app)', ' without (pod)', ' by ()'), logqlLog, logqlRange)
    .map(([op, g, log, r]) => (op.endsWith(',') ? `${op} count_over_time(${log}[${r}]))${g}` : `${op}${g} (rate(${log}[${r}]))`)),
  fc.constantFrom('"needle"', '"a phrase" `raw`', '', ' ', '{', 'sum(', 'rate({a="b"}[1m]) > 1', '{a="b"} |= ip("1.2.3.4")'),
  edgeString,
);
const lokiTime = fc.oneof(edgeNumber.map(String), edgeString, fc.constantFrom(String(NOW_S), `${NOW_S}000000000`, `${NOW_S}.5`, new Date(NOW_S * 1000).toISOString()));

export const lokiQueryRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.constantFrom('query_range', 'query', 'labels', 'label/app/values', 'label/bad-name/values', 'series', 'index/stats', 'tail'),
    optionalParam('query', logqlQuery),
    fc.array(logqlSelector, { maxLength: 2 }).map((ms) => ms.map((m) => ['match[]', m] as [string, string])),
    optionalParam('start', lokiTime),
    optionalParam('end', lokiTime),
    optionalParam('time', lokiTime),
    optionalParam('since', fc.oneof(fc.constantFrom('5m', '1h'), edgeString)),
    optionalParam('step', fc.oneof(fc.constantFrom('15s', '60', '0.5', '0', '-1'), edgeString, edgeNumber.map(String))),
    optionalParam('limit', fc.oneof(edgeNumber.map(String), edgeString)),
    optionalParam('direction', fc.oneof(fc.constantFrom('forward', 'backward', 'FORWARD'), edgeString)),
  )
  .map(([path, ...parts]) => ({ endpoint: 'loki_query', method: 'GET' as const, url: `/loki/api/v1/${path}?${queryString(parts.flat())}`, headers: {} }));

// ---------------------------------------------------------------------------
// Logs: Loki push (JSON and snappy protobuf), audit EventList, Faro, search

const NOW_NS = String(BigInt(NOW_S) * 1_000_000_000n);
const validLokiPush = { streams: [{ stream: { job: 'fuzz', namespace: 'shop', pod: 'web-7d9f8b6c5d-x2x9z' }, values: [[NOW_NS, 'fuzz line 10.0.0.1'], [NOW_NS, 'with metadata', { trace_id: 'abc' }]] }] };

/** A logproto.PushRequest by hand (labels string, one entry), so the fuzz list needs no protobufjs schema. */
function lokiProto(labels: string, seconds: number, line: string): Buffer {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    let v = Math.max(0, Math.floor(n));
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) b |= 0x80;
      out.push(b);
    } while (v > 0);
    return out;
  };
  const field = (tag: number, bytes: Buffer | number[]) => Buffer.concat([Buffer.from([tag]), Buffer.from(varint(bytes.length)), Buffer.from(bytes)]);
  const ts = Buffer.from([0x08, ...varint(seconds)]);
  const entry = Buffer.concat([field(0x0a, ts), field(0x12, Buffer.from(line))]);
  const stream = Buffer.concat([field(0x0a, Buffer.from(labels)), field(0x12, entry)]);
  return field(0x0a, stream);
}

export const lokiPushRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc
    .oneof(fc.constant(validLokiPush).map(jsonText), mutatedJson(validLokiPush).map(jsonText), anyJson.map(jsonText), fc.string({ maxLength: 80 }))
    .map((payload) => ({ endpoint: 'loki_push', method: 'POST' as const, url: '/loki/api/v1/push', headers: JSON_HEADERS, payload })),
  fc
    .tuple(fc.oneof(fc.constantFrom('{job="fuzz"}', '{job="a", ns="b"}', '{}', '{job="x"', '{job=x}', '{job="\\xff"}'), edgeString), fc.oneof(fc.constant(NOW_S), edgeNumber), fc.oneof(fc.constant('proto line'), edgeString), fc.boolean(), fc.nat(40))
    .map(([labels, seconds, line, snappied, cut]) => {
      const raw = lokiProto(labels, Number.isFinite(seconds) ? seconds : 0, line);
      const body = snappied ? (snappy.compressSync(raw) as Buffer) : raw;
      return { endpoint: 'loki_push_proto', method: 'POST' as const, url: '/loki/api/v1/push', headers: { 'content-type': 'application/x-protobuf' }, payload: cut > 30 ? body.subarray(0, cut) : body };
    }),
);

const validAuditList = {
  kind: 'EventList',
  apiVersion: 'audit.k8s.io/v1',
  items: [{ level: 'Metadata', auditID: 'f1', stage: 'ResponseComplete', verb: 'get', user: { username: 'alice' }, objectRef: { resource: 'pods', namespace: 'shop' }, stageTimestamp: new Date(NOW_S * 1000).toISOString() }],
};
const validFaro = {
  meta: { app: { name: 'fuzz-app', environment: 'test' }, session: { id: 's1' } },
  logs: [{ level: 'info', message: 'hello', timestamp: new Date(NOW_S * 1000).toISOString(), context: { a: 'b' } }],
  measurements: [{ type: 'web-vitals', values: { lcp: 1200 }, timestamp: new Date(NOW_S * 1000).toISOString() }],
  events: [{ name: 'click', timestamp: new Date(NOW_S * 1000).toISOString() }],
};

export const auditRequest: fc.Arbitrary<FuzzRequest> = slaPost('logs_audit', '/api/v1/logs/audit', validAuditList);
export const faroRequest: fc.Arbitrary<FuzzRequest> = slaPost('faro', '/collect/faro', validFaro);

export const logSearchRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    optionalParam('q', fc.oneof(fc.constantFrom('fuzz', '"fuzz line"', '10.0.0.1', '"unclosed', '-', '""'), edgeString)),
    optionalParam('namespace', fc.oneof(fc.constant('shop'), edgeString)),
    optionalParam('label', fc.oneof(fc.constantFrom('job=fuzz', 'bad', '=x', 'a-b=c'), edgeString)),
    optionalParam('since', fc.oneof(fc.constantFrom('5m', '1h', '30d'), edgeString, edgeNumber.map(String))),
    optionalParam('start', fc.oneof(edgeNumber.map(String), edgeString)),
    optionalParam('end', fc.oneof(edgeNumber.map(String), edgeString)),
    optionalParam('limit', fc.oneof(edgeNumber.map(String), edgeString)),
  )
  .map((parts) => ({ endpoint: 'logs_search', method: 'GET' as const, url: `/api/v1/logs/search?${queryString(parts.flat())}`, headers: {} }));

export const logsRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(lokiPushRequest, auditRequest, faroRequest, logSearchRequest);

/** Every edge at once, for the benchmark. */
export const anyRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(remoteWriteRequest, pushRequest, importRequest, rangeGetRequest, rangePostRequest, seriesRequest, prometheusApiRequest, utilisationRequest, slaRequest, decisionsRequest, logsRequest, lokiQueryRequest);

/** What a client may rely on for any answer: no 5xx, and a JSON error with `error` and `message` on a 4xx. Returns the problem, or null. */
export function answerProblem(status: number, contentType: string | undefined, body: string): string | null {
  if (status >= 500) return `status ${status}: ${body.slice(0, 300)}`;
  if (status >= 400) {
    if (!contentType?.includes('application/json')) return `status ${status} with content type ${contentType ?? 'none'}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return `status ${status} with a body that is not JSON: ${body.slice(0, 200)}`;
    }
    const e = parsed as { error?: unknown; message?: unknown };
    if (typeof e.error !== 'string' || typeof e.message !== 'string') return `status ${status} without error and message: ${body.slice(0, 200)}`;
  }
  return null;
}

/** The seed every property test runs with, so a failure replays. */
export const FUZZ_SEED = 20261129;

/** Sends one generated request through fastify's inject; throws with the request when the answer breaks a promise. */
export async function injectAndCheck(app: { inject(opts: object): Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }> }, req: FuzzRequest): Promise<number> {
  const r = await app.inject({ method: req.method, url: req.url, headers: req.headers, ...(req.payload === undefined ? {} : { payload: req.payload }) });
  const problem = answerProblem(r.statusCode, r.headers['content-type'] as string | undefined, r.body);
  if (problem) throw new Error(`${req.method} ${req.url} ${typeof req.payload === 'string' ? req.payload.slice(0, 300) : req.payload ? `<${req.payload.length} bytes: ${req.payload.toString('hex').slice(0, 120)}>` : ''} → ${problem}`);
  return r.statusCode;
}

/** Runs `numRuns` generated requests through `app` (fixed seed), each checked by injectAndCheck; the statuses seen, counted. */
export async function statusesUnder(app: Parameters<typeof injectAndCheck>[0], arb: fc.Arbitrary<FuzzRequest>, numRuns: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(arb, async (req) => {
      const s = await injectAndCheck(app, req);
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }),
    { seed: FUZZ_SEED, numRuns },
  );
  return statuses;
}
