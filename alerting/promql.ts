// The one door from alerting to the PromQL engine (metrics/promql), so the
// rest of alerting names only what it uses: a vector at an instant, and the
// compile check rule files go through.
export { instantQuery, checkPromQL, PromQLError, type PromQLData, type PromQLOptions } from '../metrics/promql/engine.ts';
