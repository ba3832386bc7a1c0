import { describe, expect, it } from 'vitest';
import { engineAuthHeaders, runJsonCommand } from './cli.ts';
import { InputError } from './errors.ts';

describe('engineAuthHeaders', () => {
  it('sends TIDEMARK_TOKEN as a bearer token, and nothing without one', () => {
    expect(engineAuthHeaders('tdm_abc')).toEqual({ authorization: 'Bearer tdm_abc' });
    expect(engineAuthHeaders('')).toEqual({});
  });
});

describe('runJsonCommand', () => {
  it('answers JSON, exits 2 naming the field on bad input and on text that is not JSON', () => {
    expect(runJsonCommand('{"a":1}', (raw) => raw)).toEqual({ stdout: '{\n  "a": 1\n}\n', stderr: '', code: 0 });
    expect(runJsonCommand('{"a":1}', () => {
      throw new InputError('a', 'bad');
    })).toEqual({ stdout: '', stderr: 'a: bad\n', code: 2 });
    expect(runJsonCommand('{', (raw) => raw)).toMatchObject({ stdout: '', code: 2 });
  });
});
