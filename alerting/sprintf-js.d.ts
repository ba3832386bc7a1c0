// sprintf-js ships no types; the one function alerting uses (printf in templates).
declare module 'sprintf-js' {
  export function sprintf(format: string, ...args: unknown[]): string;
}
