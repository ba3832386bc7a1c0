// Kubernetes label selectors, the one matcher of the autoscaler: the string
// form (`app=web,tier in (a,b),!canary`) parsed into requirements, matching
// against labels, and metav1.LabelSelector objects in both directions, as
// apimachinery's labels package does. Pure Kubernetes semantics over plain
// data, shared by the recommender (External metric selectors), the node
// planner (disruption budgets), the informer caches and the test kit.

export type LabelRequirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'doesnotexist' };

export class LabelSelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelSelectorError';
  }
}

/** Parses a label selector string (`a=b,c!=d,e in (x,y),!f`); throws LabelSelectorError when malformed. */
export function parseLabelSelector(text: string): LabelRequirement[] {
  const out: LabelRequirement[] = [];
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  for (const raw of parts) {
    const p = raw.trim();
    if (p === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) {
      out.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((s) => s.trim()).filter((s) => s !== '') });
    } else if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(p))) {
      out.push({ key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] });
    } else if ((m = /^!\s*([\w./-]+)$/.exec(p))) {
      out.push({ key: m[1]!, op: 'doesnotexist' });
    } else if ((m = /^([\w./-]+)$/.exec(p))) {
      out.push({ key: m[1]!, op: 'exists' });
    } else {
      throw new LabelSelectorError(`unable to parse requirement: "${p}"`);
    }
  }
  return out;
}

/** Whether labels satisfy every requirement (no requirements match everything). */
export function labelsMatch(requirements: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const r of requirements) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    if (r.op === 'exists' && !has) return false;
    if (r.op === 'doesnotexist' && has) return false;
    if (r.op === 'in' && (!has || !r.values.includes(l[r.key]!))) return false;
    if (r.op === 'notin' && has && r.values.includes(l[r.key]!)) return false;
  }
  return true;
}

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** A metav1.LabelSelector as requirements (an empty selector matches everything). */
export function selectorRequirements(selector: LabelSelectorObject | undefined): LabelRequirement[] {
  const out: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) out.push({ key, op: 'in', values: [value] });
  for (const e of selector?.matchExpressions ?? []) {
    if (e.operator === 'In' || e.operator === 'NotIn') out.push({ key: e.key, op: e.operator === 'In' ? 'in' : 'notin', values: e.values ?? [] });
    else out.push({ key: e.key, op: e.operator === 'Exists' ? 'exists' : 'doesnotexist' });
  }
  return out;
}

/** The string form of a metav1.LabelSelector, as a Scale's status.selector carries it. */
export function formatSelector(selector: LabelSelectorObject | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {}).sort(([a], [b]) => a.localeCompare(b))) parts.push(`${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    if (e.operator === 'In') parts.push(`${e.key} in (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.join(',');
}


// A selector object's requirements, derived once per object: the planner asks the same budget about every pod.
const requirementsOf = new WeakMap<LabelSelectorObject, LabelRequirement[]>();

/**
 * Whether labels satisfy a metav1.LabelSelector (LabelSelectorAsSelector): an
 * empty selector matches everything. What an absent selector means is the
 * caller's: everything for a metric selector, nothing for a disruption budget.
 */
export function selectorMatches(selector: LabelSelectorObject, labels: Record<string, string> | undefined): boolean {
  let requirements = requirementsOf.get(selector);
  if (!requirements) {
    requirements = selectorRequirements(selector);
    requirementsOf.set(selector, requirements);
  }
  return labelsMatch(requirements, labels);
}
