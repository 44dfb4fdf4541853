#!/usr/bin/env bash
# GPU check at paper scale on the webgpu backend (Dawn through Vulkan), no downloads:
#   bench engine: GPT-2 124M architecture (random weights) training and generation tokens/s
#   bench ppo:    PPO steps at B 128, 64 -> 48 tokens, 4 PPO epochs (configs/imdb-gen.json)
# and prints tokens/s, seconds per PPO step, the estimate for one paper run (194 steps) and peak
# GPU memory (nvidia-smi, when present). Budget: under 8 minutes (each part has its own timeout).
#
# Needs: `npm ci` done, an NVIDIA driver with its Vulkan ICD (nvidia_icd.json; in a container,
# NVIDIA_DRIVER_CAPABILITIES must include graphics) and the Vulkan loader (Debian: libvulkan1).
#
#   scripts/gpu-check.sh            paper scale; refuses a software adapter
#   scripts/gpu-check.sh --dry-run  tiny model, any adapter (Mesa llvmpipe too): checks the script
#                                   and the code path in well under a minute
# Env: GPU_CHECK_ENGINE_TIMEOUT / GPU_CHECK_PPO_TIMEOUT (seconds, default 150 / 300),
#      RARLHF_WEBGPU_DAWN (Dawn options, ';'-separated, e.g. "adapter=NVIDIA H100 80GB HBM3").
set -euo pipefail
cd "$(dirname "$0")/.."

dry=0
case "${1:-}" in
  --dry-run) dry=1 ;;
  "") ;;
  -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

say() { printf '[gpu-check] %s\n' "$*"; }
die() { printf '[gpu-check] error: %s\n' "$*" >&2; exit 1; }

[ -d node_modules/webgpu ] && [ -d node_modules/@tensorflow/tfjs-backend-webgpu ] || die "node_modules lacks webgpu / @tensorflow/tfjs-backend-webgpu: run npm ci first"
command -v node >/dev/null || die "node not found"

if [ "$dry" = 1 ]; then
  scale=tiny; steps=1
  say "dry run: tiny model on whatever adapter Dawn gives (software included)"
else
  scale=paper; steps=2
  if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then say "Vulkan loader: found"
  else die "no Vulkan loader (libvulkan.so.1): on Debian/Ubuntu apt-get install libvulkan1"; fi
  icd=$(ls /etc/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ' || true)
  [ -n "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}$icd" ] || die "no Vulkan driver manifest (icd.d/*.json): the NVIDIA driver's nvidia_icd.json is missing"
  say "Vulkan drivers: ${VK_ICD_FILENAMES:-${VK_DRIVER_FILES:-$icd}}"
fi
export RARLHF_BACKEND=webgpu

# The adapter first (seconds): a paper-scale run on a software adapter would take hours.
probe=$(node --import tsx -e "require('./lib/engine').initEngine({ quiet: true }).then((i) => console.log(JSON.stringify({ engine: require('./lib/engine').describeEngine(i), software: i.adapter ? i.adapter.software : null })), (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); })" 2>/dev/null | tail -1) || die "no WebGPU adapter: $probe"
say "$(node -e "const p = JSON.parse(process.argv[1]); console.log(p.engine)" "$probe")"
if [ "$dry" = 0 ] && node -e "process.exit(JSON.parse(process.argv[1]).software ? 0 : 1)" "$probe"; then
  die "Dawn found only a software adapter (no usable GPU through Vulkan); check the NVIDIA Vulkan ICD"
fi

out=$(mktemp -d)
mem_pid=""
cleanup() { [ -n "$mem_pid" ] && kill "$mem_pid" 2>/dev/null || true; }
trap cleanup EXIT
base_mib=""
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/[gpu-check] GPU: /'
  base_mib=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 | head -1 | tr -d ' ')
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 500 >"$out/mem.txt" 2>/dev/null &
  mem_pid=$!
else
  say "nvidia-smi not found: peak GPU memory only as tfjs counts it"
fi

t0=$SECONDS
run_part() { # name timeout
  say "bench $1 (scale $scale, timeout $2 s) ..."
  if ! timeout "$2" node --import tsx lib/bench/gpu.ts "$1" --scale "$scale" --steps "$steps" >"$out/$1.json" 2>"$out/$1.err"; then
    tail -20 "$out/$1.err" >&2
    say "bench $1 failed or ran past $2 s (its last lines above)"
    return 1
  fi
  grep -v '^\[rarlhf\]' "$out/$1.err" | grep -v '^Warning:\|^ *$\|^    at ' | tail -5 || true
}
status=0
run_part engine "${GPU_CHECK_ENGINE_TIMEOUT:-150}" || status=1
run_part ppo "${GPU_CHECK_PPO_TIMEOUT:-300}" || status=1
elapsed=$((SECONDS - t0))
cleanup; mem_pid=""

peak_mib=""
[ -s "$out/mem.txt" ] && peak_mib=$(sort -n "$out/mem.txt" | tail -1 | tr -d ' ')

node - "$out" "$scale" "$elapsed" "${peak_mib:-}" "${base_mib:-}" <<'EOF'
const fs = require('node:fs');
const [dir, scale, elapsed, peak, base] = process.argv.slice(2);
const read = (n) => { try { return JSON.parse(fs.readFileSync(`${dir}/${n}.json`, 'utf8').trim().split('\n').pop()); } catch { return null; } };
const e = read('engine'), p = read('ppo');
const line = (k, v) => console.log(`  ${k.padEnd(34)} ${v}`);
console.log(`\n[gpu-check] summary (scale ${scale}, ${elapsed} s for both parts)`);
if (e) {
  line('engine', e.engine);
  line('train tokens/s', `${e.train_tokens_per_s} (fwd+bwd+AdamW, batch ${e.train_shape.join(' x ')})`);
  line('generation tokens/s', `${e.gen_tokens_per_s} (B ${e.gen_shape.B}, ${e.gen_shape.prompt} -> +${e.gen_shape.new_tokens})`);
} else line('bench engine', 'no result');
if (p) {
  line('seconds per PPO step', `${p.sec_per_step} (rollout ${p.rollout_s}, optimisation ${p.optimisation_s}; B ${p.batch_size}, mini-batch ${p.mini_batch_size}, ${p.ppo_epochs} PPO epochs)`);
  if (p.mini_batch_note) line('note', p.mini_batch_note);
  line(`one paper run (${p.paper_run_steps} steps)`, `~${p.paper_run_estimate_h} h (${p.paper_run_estimate_note})`);
} else line('bench ppo', 'no result');
if (peak) line('peak GPU memory (nvidia-smi)', `${peak} MiB (${base} MiB in use before)`);
const tb = Math.max(e?.tfjs_gpu_bytes_peak ?? 0, p?.tfjs_gpu_bytes_peak ?? 0);
line('peak tfjs GPU allocation', `${(tb / 2 ** 20).toFixed(0)} MiB`);
EOF
say "raw JSON lines: $out/engine.json $out/ppo.json"
exit $status
