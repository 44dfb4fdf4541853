/**
 * `rarlhf bench <name>`: each benchmark prints one JSON line. Benchmarks live next to the code
 * they measure (lib/<area>/bench.ts exporting `bench(): Promise<object>`).
 */
const BENCHES: Record<string, string> = {
  engine: '../../engine/bench',
  text: '../../text/bench',
  data: '../../data/bench',
  ppo: '../../rl/bench',
  reward: '../../rewards/bench',
  eval: '../../eval/bench',
};

export async function run(argv: string[]): Promise<void> {
  const which = argv[0] ?? 'all';
  const names = which === 'all' ? Object.keys(BENCHES) : [which];
  for (const name of names) {
    const file = BENCHES[name];
    if (!file) throw new Error(`unknown benchmark "${name}" (choose ${Object.keys(BENCHES).join(', ')} or all)`);
    const mod = require(file) as { bench(argv: string[]): Promise<object> };
    const result = await mod.bench(argv.slice(1));
    console.log(JSON.stringify({ bench: name, ...result }));
  }
}
