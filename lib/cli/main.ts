/**
 * `npx rarlhf <command> ...`: each command lives in lib/cli/commands/<name>.ts and exports
 * `run(argv: string[]): Promise<void>`. Commands load lazily so `--help` stays fast.
 */
const COMMANDS: Record<string, { file: string; help: string }> = {
  demo: { file: './commands/demo', help: 'offline end-to-end demo on a generated task (no network)' },
  sft: { file: './commands/sft', help: 'supervised fine-tuning: --config <file> [--set k=v] --out <dir>' },
  train: { file: './commands/train', help: 'PPO: --algo rlhf|ra-rlhf --config <file> [--set k=v] --out <dir> [--resume]' },
  reward: { file: './commands/reward', help: 'reward models: reward train|eval --task imdb|toxicity ...' },
  generate: { file: './commands/generate', help: 'generations table: --task <t> --model NAME=<ckpt> ... --out <file>' },
  eval: { file: './commands/eval', help: 'metrics, tables and figures from a generations file' },
  repro: { file: './commands/repro', help: 'miniature paper reproduction: --task imdb-mini|jigsaw-mini --seeds 3' },
  baselines: { file: './commands/baselines', help: 'prompted GPT-2, best-of-n, DExperts, Quark beside RLHF / RA-RLHF: --task imdb-mini [--methods ...]' },
  study: { file: './commands/study', help: 'fidelity study: arms x seeds on a miniature, paired bootstrap vs RLHF: --spec <file.json>' },
  bench: { file: './commands/bench', help: 'benchmarks: bench engine|ppo|reward|eval|all' },
};

export function usage(): string {
  const lines = ['usage: rarlhf <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.help}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return;
  }
  const cmd = COMMANDS[name];
  if (!cmd) throw new Error(`unknown command "${name}"\n\n${usage()}`);
  const mod = require(cmd.file) as { run(argv: string[]): Promise<void> };
  await mod.run(rest);
}

/** Run the CLI on process.argv and exit non-zero with a one-line message on error. */
export function runCli(): void {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`rarlhf: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.RARLHF_DEBUG) console.error(err);
    process.exit(1);
  });
}

if (require.main === module) runCli();
