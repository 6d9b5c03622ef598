import { UsageError } from './errors.ts';

/**
 * Parameters of a stack or a lab, declared as a table so that the CLI can list them,
 * refuse unknown ones with the valid choices, and parse `--param key=value`.
 */
export type ParamSpec =
  | { type: 'int'; default: number; min?: number; max?: number; describe: string }
  | { type: 'enum'; default: string; choices: readonly string[]; describe: string }
  | { type: 'bool'; default: boolean; describe: string };

export type ParamTable = Record<string, ParamSpec>;

export type ParamValues<T extends ParamTable> = {
  [K in keyof T]: T[K] extends { type: 'int' }
    ? number
    : T[K] extends { type: 'bool' }
      ? boolean
      : T[K] extends { choices: readonly (infer C)[] }
        ? C
        : string;
};

/** Defaults overlaid with the given strings or values; every key and value checked. */
export function resolveParams<T extends ParamTable>(
  table: T,
  given: Record<string, string | number | boolean>,
  owner: string,
): ParamValues<T> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (!(key in table)) {
      const valid = Object.keys(table);
      throw new UsageError(
        `${owner} has no parameter "${key}"`,
        valid.length ? `valid parameters: ${valid.join(', ')}` : `${owner} takes no parameters`,
      );
    }
  }
  for (const [key, spec] of Object.entries(table)) {
    const raw = given[key];
    out[key] = raw === undefined ? spec.default : parseOne(spec, key, raw, owner);
  }
  return out as ParamValues<T>;
}

function parseOne(spec: ParamSpec, key: string, raw: string | number | boolean, owner: string): unknown {
  const s = String(raw);
  switch (spec.type) {
    case 'int': {
      const n = Number(s);
      const range = `${spec.min ?? '-inf'}..${spec.max ?? 'inf'}`;
      if (!Number.isInteger(n))
        throw new UsageError(`${owner}: ${key} must be a whole number, not "${s}"`, `range ${range}`);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new UsageError(`${owner}: ${key}=${n} is out of range`, `${key} must be in ${range}`);
      }
      return n;
    }
    case 'enum':
      if (!spec.choices.includes(s)) {
        throw new UsageError(
          `${owner}: ${key}="${s}" is not a valid choice`,
          `choose from: ${spec.choices.join(', ')}`,
        );
      }
      return s;
    case 'bool':
      if (!['true', 'false', '1', '0', 'yes', 'no'].includes(s)) {
        throw new UsageError(`${owner}: ${key} must be true or false, not "${s}"`);
      }
      return ['true', '1', 'yes'].includes(s);
  }
}

/** Parses repeated `key=value` strings from the command line. */
export function parseKeyValues(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf('=');
    if (i <= 0) throw new UsageError(`--param expects key=value, got "${item}"`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

export function describeParams(table: ParamTable): string[] {
  return Object.entries(table).map(([k, s]) => {
    const extra =
      s.type === 'enum' ? ` (${s.choices.join('|')})` : s.type === 'int' && s.min !== undefined ? ` (>= ${s.min})` : '';
    return `${k}=${String(s.default)}${extra}  ${s.describe}`;
  });
}
