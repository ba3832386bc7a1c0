// A Loki stream's labels as Promtail sends them in protobuf pushes: the
// Prometheus label-set syntax `{job="varlogs", namespace="shop"}` with Go
// string escapes (Go's strconv.Quote writes them: \" \\ \n \t \xNN \uNNNN
// …). A small exact parser: the PromQL grammar would parse it too, but
// returns a tree whose string literals still need this unquoting.
import { InputError } from '../core/errors.ts';

const NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const SIMPLE: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

/** The labels of `{a="b", …}`; throws InputError naming `field` and the position. */
export function parseLabelString(text: string, field: string): Record<string, string> {
  let i = 0;
  const fail = (why: string): never => {
    throw new InputError(field, `${why} at position ${i} of ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text)}`);
  };
  const space = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const labels: Record<string, string> = {};
  space();
  if (text[i] !== '{') fail('expected "{"');
  i++;
  space();
  while (text[i] !== '}') {
    NAME.lastIndex = i;
    const name = NAME.exec(text)?.[0];
    if (!name) fail('expected a label name');
    i += name!.length;
    space();
    if (text[i] !== '=') fail('expected "="');
    i++;
    space();
    const quote = text[i];
    if (quote !== '"' && quote !== '`') fail('expected a quoted label value');
    i++;
    let value = '';
    if (quote === '`') {
      const end = text.indexOf('`', i);
      if (end < 0) fail('unterminated label value');
      value = text.slice(i, end);
      i = end + 1;
    } else {
      const bytes: number[] = [];
      const flush = () => {
        if (bytes.length === 0) return;
        const buf = Buffer.from(bytes);
        if (!Buffer.from(buf.toString('utf8'), 'utf8').equals(buf)) fail('label value holds invalid UTF-8');
        value += buf.toString('utf8');
        bytes.length = 0;
      };
      for (;;) {
        if (i >= text.length) fail('unterminated label value');
        const c = text[i]!;
        if (c === '"') break;
        if (c !== '\\') {
          flush();
          value += c;
          i++;
          continue;
        }
        const e = text[i + 1];
        if (e === undefined) fail('unterminated escape');
        if (e! in SIMPLE) {
          flush();
          value += SIMPLE[e!];
          i += 2;
        } else if (e === 'x' || /[0-7]/.test(e!)) {
          // A byte: Go writes invalid UTF-8 and control bytes this way.
          const hex = e === 'x' ? text.slice(i + 2, i + 4) : text.slice(i + 1, i + 4);
          const byte = e === 'x' ? (/^[0-9a-fA-F]{2}$/.test(hex) ? parseInt(hex, 16) : NaN) : /^[0-7]{3}$/.test(hex) ? parseInt(hex, 8) : NaN;
          if (!(byte >= 0 && byte <= 255)) fail('bad byte escape');
          bytes.push(byte);
          i += e === 'x' ? 4 : 4;
        } else if (e === 'u' || e === 'U') {
          const digits = e === 'u' ? 4 : 8;
          const hex = text.slice(i + 2, i + 2 + digits);
          const cp = new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex) ? parseInt(hex, 16) : NaN;
          if (!(cp >= 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) fail('bad unicode escape');
          flush();
          value += String.fromCodePoint(cp);
          i += 2 + digits;
        } else {
          fail(`unknown escape \\${e}`);
        }
      }
      flush();
      i++;
    }
    if (name! in labels) fail(`label "${name}" given twice`);
    labels[name!] = value;
    space();
    if (text[i] === ',') {
      i++;
      space();
    } else if (text[i] !== '}') {
      fail('expected "," or "}"');
    }
  }
  i++;
  space();
  if (i !== text.length) fail('unexpected text after "}"');
  return labels;
}
