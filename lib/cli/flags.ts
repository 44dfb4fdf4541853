/**
 * Numeric command-line flags: decimal notation only (Number() would take "0x10", "" or "1e400"),
 * and each flag states its allowed range, so "--bins -3" says what --bins accepts instead of
 * failing later inside the histogram code.
 */
import { parseDecimal } from '../data/strict';

export interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  /** exclusive bounds */
  gt?: number;
  lt?: number;
  /** what the flag means, for the message ("histogram bins") */
  what?: string;
}

function allowed(r: NumberRule): string {
  const parts: string[] = [];
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.gt !== undefined) parts.push(`> ${r.gt}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  if (r.lt !== undefined) parts.push(`< ${r.lt}`);
  return `${r.integer ? 'an integer' : 'a number'}${parts.length ? ` ${parts.join(' and ')}` : ''}${r.what ? ` (${r.what})` : ''}`;
}

/** Parse `value` of `flag` ("--bins") by `rule`; errors name the flag, the value and what is allowed. */
export function numberFlag(flag: string, value: string, rule: NumberRule = {}): number {
  const x = parseDecimal(value);
  const ok =
    Number.isFinite(x) &&
    (!rule.integer || Number.isInteger(x)) &&
    (rule.min === undefined || x >= rule.min) &&
    (rule.max === undefined || x <= rule.max) &&
    (rule.gt === undefined || x > rule.gt) &&
    (rule.lt === undefined || x < rule.lt);
  if (!ok) throw new Error(`${flag} ${JSON.stringify(value)}: expected ${allowed(rule)} in decimal notation`);
  return x;
}

export const positiveInt = (what?: string): NumberRule => ({ integer: true, min: 1, what });
export const nonNegativeInt = (what?: string): NumberRule => ({ integer: true, min: 0, what });

/** `--seeds N` (seeds 0..N-1) or `--seed-list 0,3,7` (distinct non-negative integers); `command` prefixes errors. */
export function seedsFlag(command: string, values: { seeds?: string; 'seed-list'?: string }): number[] {
  if (values['seed-list'] !== undefined) {
    const seeds = values['seed-list'].split(',').map((s) => parseDecimal(s));
    if (seeds.some((s) => !Number.isInteger(s) || s < 0) || new Set(seeds).size !== seeds.length) throw new Error(`${command}: --seed-list must be distinct non-negative integers, got ${JSON.stringify(values['seed-list'])}`);
    return seeds;
  }
  const n = parseDecimal(values.seeds ?? '3');
  if (!Number.isInteger(n) || n < 1) throw new Error(`${command}: --seeds must be a positive integer, got ${JSON.stringify(values.seeds)}`);
  return Array.from({ length: n }, (_, i) => i);
}
