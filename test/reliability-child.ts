/**
 * Child process of reliability-faults.test.ts (not a test file): runs the toy PPO run of
 * faultConfig() into argv[2] (resuming when argv[3] is "resume"), so RARLHF_FAULT_AT can kill it
 * inside a checkpoint write. Prints {"fault_points": n} on success.
 */
import { initEngine } from '../lib/engine';
import { faultPointsPassed } from '../lib/rl/checkpoint-swap';
import { trainPPO } from '../lib/rl/train-loop';
import { faultConfig, faultDeps } from './reliability-fixtures';

async function main(): Promise<void> {
  await initEngine({ quiet: true });
  await trainPPO(faultConfig(), { ...faultDeps(), outDir: process.argv[2], resume: process.argv[3] === 'resume' });
  console.log(JSON.stringify({ fault_points: faultPointsPassed() }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
