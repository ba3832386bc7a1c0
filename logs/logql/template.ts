// line_format's templates: the subset of Go's text/template that Loki
// queries use in practice: text, `{{.label}}` (and `{{ .label }}`),
// `{{__line__}}`, and pipes through a few string functions
// (`{{.msg | ToUpper}}`, `{{ .x | default "none" }}`). Anything else is a
// 400 naming the template, never a half-rendered line.

type Part = string | { readonly field: string; readonly fns: readonly ((v: string) => string)[] };

export type Template = (labels: Readonly<Record<string, string>>, line: string) => string;

const FUNCTIONS: Record<string, (arg?: string) => (v: string) => string> = {
  ToUpper: () => (v) => v.toUpperCase(),
  ToLower: () => (v) => v.toLowerCase(),
  upper: () => (v) => v.toUpperCase(),
  lower: () => (v) => v.toLowerCase(),
  TrimSpace: () => (v) => v.trim(),
  trim: () => (v) => v.trim(),
  default: (arg) => (v) => (v === '' ? (arg ?? '') : v),
};

/** The template compiled, or throws an Error saying what it cannot render. */
export function compileTemplate(text: string): Template {
  const parts: Part[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open < 0) {
      parts.push(text.slice(i));
      break;
    }
    if (open > i) parts.push(text.slice(i, open));
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw new Error(`template: unclosed action at ${open}`);
    let action = text.slice(open + 2, close);
    // {{- and -}} trim the text around, as Go does.
    if (action.startsWith('-')) {
      action = action.slice(1);
      const last = parts[parts.length - 1];
      if (typeof last === 'string') parts[parts.length - 1] = last.trimEnd();
    }
    let trimAfter = false;
    if (action.endsWith('-')) {
      action = action.slice(0, -1);
      trimAfter = true;
    }
    const [head, ...pipes] = action.split('|').map((s) => s.trim());
    let field: string;
    if (head === '__line__' || head === '.__line__') field = '__line__';
    else if (head && /^\.[A-Za-z_][A-Za-z0-9_]*$/.test(head)) field = head.slice(1);
    else throw new Error(`template: {{${action}}} is not supported (use {{.label}} or {{__line__}}, with | ToUpper, ToLower, trim or default "x")`);
    const fns = pipes.map((p) => {
      const m = /^([A-Za-z]+)(?:\s+"((?:[^"\\]|\\.)*)")?$/.exec(p);
      const make = m ? FUNCTIONS[m[1]!] : undefined;
      if (!m || !make) throw new Error(`template: the function ${JSON.stringify(p)} is not supported`);
      return make(m[2] === undefined ? undefined : (JSON.parse(`"${m[2]}"`) as string));
    });
    parts.push({ field, fns });
    i = close + 2;
    if (trimAfter) while (i < text.length && /\s/.test(text[i]!)) i++;
  }
  return (labels, line) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else {
        let v = p.field === '__line__' ? line : (labels[p.field] ?? '');
        for (const fn of p.fns) v = fn(v);
        out += v;
      }
    }
    return out;
  };
}
