// Kubernetes container log files in the CRI format, as the kubelet writes
// them under /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log:
// one line per entry, `<RFC3339Nano> <stdout|stderr> <P|F> <text>`, where a
// long entry is split into P (partial) pieces ended by an F (full) piece.
// Pure: parsing a line, the labels of a path, and joining partial pieces.
import { rfc3339Nanos } from './time.ts';
import { workloadName } from './workload.ts';

export interface CriEntry {
  readonly tsNs: bigint;
  readonly stream: 'stdout' | 'stderr';
  readonly partial: boolean;
  readonly text: string;
}

/** One CRI log line (without its newline), or null when it is not one. */
export function parseCriLine(line: string): CriEntry | null {
  const a = line.indexOf(' ');
  const b = a < 0 ? -1 : line.indexOf(' ', a + 1);
  if (b < 0) return null;
  const tsNs = rfc3339Nanos(line.slice(0, a));
  const stream = line.slice(a + 1, b);
  if (tsNs === null || (stream !== 'stdout' && stream !== 'stderr')) return null;
  // The tag is P or F, possibly with more flags after a colon in future runtimes (F:x).
  const c = line.indexOf(' ', b + 1);
  const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
  const flag = tag.split(':')[0];
  if (flag !== 'P' && flag !== 'F') return null;
  return { tsNs, stream, partial: flag === 'P', text: c < 0 ? '' : line.slice(c + 1) };
}

export interface PodLogPath {
  readonly namespace: string;
  readonly pod: string;
  readonly uid: string;
  readonly container: string;
}

const POD_LOG_PATH = /(?:^|\/)([^/_]+)_([^/_]+)_([^/_]+)\/([^/]+)\/\d+\.log$/;

/** Namespace, pod, uid and container of a /var/log/pods path, or null when it is not one. */
export function podLogPath(path: string): PodLogPath | null {
  const m = POD_LOG_PATH.exec(path);
  if (!m) return null;
  return { namespace: m[1]!, pod: m[2]!, uid: m[3]!, container: m[4]! };
}

/** The stream labels of a pod log file's lines (without `stream`, which is per line). */
export function podLogLabels(path: PodLogPath, cluster: string): Record<string, string> {
  return { cluster, namespace: path.namespace, workload: workloadName(path.pod), pod: path.pod, container: path.container };
}

/**
 * Joins P pieces with the F piece that ends them, per stream (stdout and
 * stderr interleave). The entry's time is its first piece's.
 */
export class PartialJoiner {
  private readonly open = new Map<string, { tsNs: bigint; text: string }>();

  /** The complete entry this piece ends, or null while it is still partial. Bounded: past maxBytes the entry is cut. */
  push(entry: CriEntry, maxChars = Number.POSITIVE_INFINITY): CriEntry | null {
    const pending = this.open.get(entry.stream);
    const text = pending ? pending.text + entry.text : entry.text;
    const tsNs = pending?.tsNs ?? entry.tsNs;
    if (entry.partial && text.length < maxChars) {
      this.open.set(entry.stream, { tsNs, text });
      return null;
    }
    this.open.delete(entry.stream);
    return { tsNs, stream: entry.stream, partial: false, text: text.length > maxChars ? text.slice(0, maxChars) : text };
  }

  /** Whether a partial entry is waiting for its end. */
  get pending(): boolean {
    return this.open.size > 0;
  }
}
