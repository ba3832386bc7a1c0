// Which Host and Origin headers the engine answers to: the defence against
// DNS rebinding (a foreign name resolving to 127.0.0.1) and against pages
// elsewhere writing into a local engine. Pure functions over strings.
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** Whether a bind address only listens on this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** An address as it appears in a Host header: IPv6 in brackets. */
function hostForm(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/**
 * The default Host allow-list: the loopback names on any port, and the bound
 * address with its port (bound to every interface: each interface's address
 * and the machine's name, with the port).
 */
export function defaultAllowedHosts(boundHost: string, port: number): string[] {
  const out = [...LOOPBACK_NAMES];
  const h = boundHost.replace(/^\[|\]$/g, '');
  if (h === '0.0.0.0' || h === '::' || h === '') {
    for (const list of Object.values(networkInterfaces())) {
      for (const i of list ?? []) out.push(`${hostForm(i.address.split('%')[0]!)}:${port}`);
    }
    out.push(`${hostname()}:${port}`);
  } else {
    out.push(`${hostForm(h)}:${port}`);
  }
  return [...new Set(out.map((x) => x.toLowerCase()))];
}

/** Splits `name:port`, `[v6]:port`, `name` or `[v6]` into name and port. */
function splitHost(text: string): { name: string; port?: string } {
  const t = text.trim().toLowerCase();
  const v6 = /^(\[[^\]]+\])(?::(\d+))?$/.exec(t);
  if (v6) return { name: v6[1]!, port: v6[2] };
  const i = t.lastIndexOf(':');
  return i < 0 ? { name: t } : { name: t.slice(0, i), port: t.slice(i + 1) };
}

/** Whether a Host header matches an entry of the allow-list; an entry without a port allows any port. */
export function hostAllowed(header: string, allowed: readonly string[]): boolean {
  const h = splitHost(header);
  return allowed.some((entry) => {
    const a = splitHost(entry);
    return a.name === h.name && (a.port === undefined || a.port === h.port);
  });
}

/** Whether a page at this Origin may change state: a listed origin, or the engine's own (its host is an allowed Host). */
export function originAllowed(origin: string, allowedOrigins: readonly string[], allowedHosts: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // includes the opaque origin "null" (sandboxed frames, file: pages)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (allowedOrigins.some((o) => new URL(o).origin === url.origin)) return true;
  return hostAllowed(url.host, allowedHosts);
}
