import { describe, expect, it } from 'vitest';
import { byteSize, compilePipeline, durationSeconds, logfmtPairs } from './pipeline.ts';
import { parseLogql } from './parse.ts';
import { compileTemplate } from './template.ts';

function run(query: string, line: string, labels: Record<string, string> = { app: 'web' }) {
  const q = parseLogql(query);
  if (q.kind !== 'log') throw new Error('log query expected');
  return compilePipeline(q.pipeline)!({ labels, line });
}

describe('pipeline stages run per line as Loki runs them', () => {
  it('json flattens nested fields with _, skips arrays, and renames clashes to _extracted', () => {
    const e = run('{app="web"} | json', '{"level":"error","http":{"status":503,"path":"/a"},"tags":["x"],"app":"other","ok":true}');
    expect(e!.labels).toEqual({ app: 'web', level: 'error', http_status: '503', http_path: '/a', app_extracted: 'other', ok: 'true' });
  });

  it('json with expressions extracts only the named paths', () => {
    const e = run('{app="web"} | json code="resp.code", first="items[0]"', '{"resp":{"code":418},"items":["a","b"],"other":1}');
    expect(e!.labels).toEqual({ app: 'web', code: '418', first: 'a' });
  });

  it('a line that is not JSON gets __error__ and is dropped by | __error__=""', () => {
    expect(run('{app="web"} | json', 'plain text')!.labels['__error__']).toBe('JSONParserErr');
    expect(run('{app="web"} | json | __error__=""', 'plain text')).toBeNull();
  });

  it('logfmt reads quoted values and bare keys', () => {
    expect(logfmtPairs('level=info msg="hello world" dur=1.5s flag path=/x\\ y')).toEqual([
      ['level', 'info'],
      ['msg', 'hello world'],
      ['dur', '1.5s'],
      ['flag', ''],
      ['path', '/x\\'],
      ['y', ''],
    ]);
    expect(run('{app="web"} | logfmt | level="error"', 'level=error msg=boom')!.labels).toMatchObject({ level: 'error', msg: 'boom' });
    expect(run('{app="web"} | logfmt | level="error"', 'level=info msg=fine')).toBeNull();
  });

  it('numeric, duration and byte label filters; and/or; regex anchored', () => {
    const line = '{"status":503,"took":"250ms","size":"12KB","level":"warning"}';
    expect(run('{a="b"} | json | status >= 500', line)).not.toBeNull();
    expect(run('{a="b"} | json | status < 500', line)).toBeNull();
    expect(run('{a="b"} | json | took > 200ms and size > 10KB', line)).not.toBeNull();
    expect(run('{a="b"} | json | took > 1s or level="warning"', line)).not.toBeNull();
    expect(run('{a="b"} | json | level=~"warn"', line)).toBeNull();
    expect(run('{a="b"} | json | level=~"warn.*"', line)).not.toBeNull();
    // A value that is not a number: kept, marked, as Loki does.
    expect(run('{a="b"} | json | level > 1', line)!.labels['__error__']).toBe('LabelFilterErr');
    // A missing label never passes a numeric filter.
    expect(run('{a="b"} | json | absent > 1', line)).toBeNull();
  });

  it('line filters after a parser, and line_format with labels and __line__', () => {
    expect(run('{a="b"} | json | line_format "{{.level}}: {{ .status }}" |= "warning: 503"', '{"status":503,"level":"warning"}')!.line).toBe('warning: 503');
    expect(run('{a="b"} | logfmt | line_format "{{.msg | ToUpper}} [{{__line__}}]"', 'msg=hi')!.line).toBe('HI [msg=hi]');
    expect(run('{a="b"} | line_format "{{.nope | default \\"none\\"}}"', 'x')!.line).toBe('none');
    expect(run('{a="b"} | json |= "x" or "y" != "z"', '{"a":"xz"}')).toBeNull();
  });

  it('drop and keep change only the labels; decolorize strips ANSI colours', () => {
    const labels = { app: 'web', pod: 'p-1', level: 'info', __error__: 'JSONParserErr' };
    expect(run('{a="b"} | drop __error__, level="debug"', 'x', labels)!.labels).toEqual({ app: 'web', pod: 'p-1', level: 'info' });
    expect(run('{a="b"} | drop level="info"', 'x', labels)!.labels).toEqual({ app: 'web', pod: 'p-1', __error__: 'JSONParserErr' });
    expect(run('{a="b"} | keep app, level', 'x', labels)!.labels).toEqual({ app: 'web', level: 'info' });
    expect(run('{a="b"} | decolorize', '\u001b[31merror\u001b[0m done', labels)!.line).toBe('error done');
  });

  it('label_format renames and renders from the labels before the stage', () => {
    const e = run('{a="b"} | logfmt | label_format who=user, tag="{{.app}}/{{.user | ToUpper}}"', 'user=ann', { app: 'web' });
    expect(e!.labels).toEqual({ app: 'web', who: 'ann', tag: 'web/ANN' });
  });

  it('reads Go durations and byte sizes', () => {
    expect(durationSeconds('1h30m')).toBe(5400);
    expect(durationSeconds('250ms')).toBe(0.25);
    expect(durationSeconds('5 s')).toBeNaN();
    expect(byteSize('5MiB')).toBe(5 * 1024 * 1024);
    expect(byteSize('10 KB')).toBe(10_000);
    expect(byteSize('x')).toBeNaN();
  });

  it('templates refuse what they cannot render', () => {
    expect(() => compileTemplate('{{if .x}}y{{end}}')).toThrow(/not supported/);
    expect(() => compileTemplate('{{.x | printf "%d"}}')).toThrow(/not supported/);
    expect(() => compileTemplate('{{.x')).toThrow(/unclosed/);
    expect(compileTemplate('a {{- .x -}} b')({ x: '1' }, '')).toBe('a1b');
  });
});
