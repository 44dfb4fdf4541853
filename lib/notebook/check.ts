/**
 * "What you should see" checks for notebooks: each states an expected direction, compares it with
 * the numbers just computed and prints ✓ or ✗ with them, so a reader (and CI's log) sees at once
 * whether the run shows the lesson. A ✗ is reported, not thrown: a small stochastic run may miss,
 * and the notebook should say so rather than stop. RARLHF_NB_STRICT=1 makes ✗ throw (for the
 * deterministic toy notebook, or to hunt regressions).
 */

export interface CheckResult { claim: string; ok: boolean; detail: string }

const results: CheckResult[] = [];

function fmt(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v);
}

/** Print "✓ claim (a = 1.234, b = 0.5)" or "✗ ...". Returns nothing, so a notebook cell ending in a check prints only the line. */
export function check(claim: string, ok: boolean, numbers: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env): void {
  const detail = Object.entries(numbers).map(([k, v]) => `${k} = ${fmt(v)}`).join(', ');
  results.push({ claim, ok, detail });
  const line = `${ok ? '✓' : '✗'} ${claim}${detail ? ` (${detail})` : ''}`;
  console.log(line);
  if (!ok && env.RARLHF_NB_STRICT === '1') throw new Error(`check failed: ${line}`);
}

/** All checks so far in this kernel (a summary cell prints the count). */
export function checkResults(): readonly CheckResult[] {
  return results;
}
