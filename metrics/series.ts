// Series identity: a label set maps to one stable 64-bit id, whatever the
// order its labels arrived in. Also the label-name and label-value rules every source applies.
import xxhash from 'xxhash-wasm';
import type { Labels } from '../core/bus/samples.ts';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name);
}

export function isValidMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** Labels sorted by name, the canonical form hashed into the series id. */
export function canonicalLabels(labels: Labels): [string, string][] {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// xxHash64: a stable, well-distributed 64-bit hash, about twice as fast here as truncated SHA-1.
const { h64, h64Raw } = await xxhash();

/** xxHash64 of the sorted labels as one string (name NUL value SOH …). */
export function seriesId(labels: Labels): bigint {
  let text = '';
  for (const [name, value] of canonicalLabels(labels)) text += `${name}\u0000${value}\u0001`;
  return h64(text);
}

/**
 * seriesId from the canonical form's UTF-8 bytes (name NUL value SOH …,
 * names sorted, empty values left out), for a decoder that has the bytes at
 * hand: the same id as seriesId of those labels, without building strings.
 */
export function seriesIdOfCanonical(bytes: Uint8Array): bigint {
  return h64Raw(bytes);
}

/** Why a label set cannot be stored, or null when it can. Names the offending label. */
export function labelSetProblem(labels: Labels): string | null {
  const name = labels['__name__'];
  if (name === undefined || name === '') return 'series has no __name__ label';
  if (!isValidMetricName(name)) return `invalid metric name "${name}"`;
  for (const [key, value] of Object.entries(labels)) {
    if (key !== '__name__' && !isValidLabelName(key)) return `invalid label name "${key}"`;
    if (!isWellFormedText(value)) return `label value of "${key}" is not valid UTF-8 (it holds a lone surrogate)`;
  }
  return null;
}

// With the u flag a surrogate pair is one code point; only a lone surrogate is of category Cs.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether a string has a UTF-8 form: JSON can carry lone surrogates
 * ("\ud800"), which Prometheus refuses as invalid UTF-8 and which would be
 * stored as U+FFFD, a different label value than the one sent.
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}
