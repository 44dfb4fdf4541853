/**
 * `rarlhf bench <name>`: each benchmark prints one JSON line. Benchmarks live in lib/bench/, one
 * file per area, each exporting `bench(): Promise<object>`; it is a top layer, so a benchmark may
 * import any module without an arrow running back up.
 */
const BENCHES: Record<string, string> = {
  engine: '../../bench/engine',
  text: '../../bench/text',
  data: '../../bench/data',
  ppo: '../../bench/ppo',
  reward: '../../bench/reward',
  eval: '../../bench/eval',
  // paper-scale webgpu throughput (scripts/gpu-check.sh); needs a GPU adapter, so not part of `all`
  gpu: '../../bench/gpu',
};

export async function run(argv: string[]): Promise<void> {
  const which = argv[0] ?? 'all';
  const names = which === 'all' ? Object.keys(BENCHES).filter((n) => n !== 'gpu') : [which];
  for (const name of names) {
    const file = BENCHES[name];
    if (!file) throw new Error(`unknown benchmark "${name}" (choose ${Object.keys(BENCHES).join(', ')} or all)`);
    const mod = require(file) as { bench(argv: string[]): Promise<object> };
    const result = await mod.bench(argv.slice(1));
    console.log(JSON.stringify({ bench: name, ...result }));
  }
}
