/**
 * The `webgpu` backend: @tensorflow/tfjs-backend-webgpu on Dawn for Node (npm package `webgpu`).
 *
 * - tfjs-backend-webgpu registers itself only if `navigator.gpu` exists when it is imported, and
 *   its factory asks for a core-level adapter; so we find the adapter ourselves (Dawn options,
 *   feature level), install `navigator.gpu`, import the package, and replace its factory with one
 *   that uses our adapter and asks for the adapter's storage-buffer limit (a compatibility adapter
 *   defaults to 4 per shader stage, too few for some tfjs kernels).
 * - The backend's readSync needs OffscreenCanvas; ours reads through a staging buffer and waits
 *   synchronously (webgpu-sync.ts), so `dataSync()` works as on the other backends.
 * - Hardware adapters are Vulkan (Dawn's default on Linux). Software adapters (Mesa llvmpipe
 *   through OpenGL ES, a compatibility adapter; Dawn rejects Debian 12's lavapipe Vulkan) are used
 *   only when asked for: tests and RARLHF_BACKEND=webgpu, never by the automatic choice.
 * Everything fails soft: if `webgpu` cannot load (another OS, no prebuilt) the probe says why.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { captureDawnTick, waitMapped } from './webgpu-sync';
import { registerWebGPUKernels } from './webgpu-kernels';

export interface WebGPUAdapterInfo {
  /** e.g. "NVIDIA H100 80GB HBM3 (vulkan)" or "llvmpipe-llvm-15-0-6-256-bits-, OpenGL version OpenGL ES 3.2 Mesa 22.3.6 (opengles, compatibility, software)". */
  name: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Dawn backend the adapter came from: 'vulkan' (Dawn's choice on Linux), 'opengles', 'default' (elsewhere), ... */
  backend: string;
  featureLevel: 'core' | 'compatibility';
  /** CPU implementation (llvmpipe, lavapipe, SwiftShader, Dawn's fallback adapter). */
  software: boolean;
}
export type WebGPUProbe = { ok: true; adapter: WebGPUAdapterInfo } | { ok: false; reason: string };

interface Dawn {
  create(options: string[]): GPULike;
  globals: Record<string, unknown>;
}
interface GPULike {
  requestAdapter(o?: Record<string, unknown>): Promise<AdapterLike | null>;
}
interface AdapterLike {
  info: Record<string, unknown>;
  limits: Record<string, number>;
  features: Set<string>;
  requestDevice(d?: Record<string, unknown>): Promise<DeviceLike>;
}
interface DeviceLike {
  lost: Promise<{ message: string }>;
  addEventListener?(type: string, f: (e: { error?: { message?: string } }) => void): void;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|swrast|software/i;

export function isSoftwareAdapter(info: Record<string, unknown>): boolean {
  if (info.isFallbackAdapter === true) return true;
  return SOFTWARE.test(['vendor', 'architecture', 'device', 'description'].map((k) => String(info[k] ?? '')).join(' '));
}

function loadDawn(): Dawn | string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('webgpu') as Dawn;
  } catch (e) {
    // ESM package: Node < 20.19 cannot require() it; its prebuilt addon loads directly
    try {
      const arch = process.platform === 'darwin' ? 'universal' : process.arch;
      const dir = path.dirname(require.resolve('webgpu/package.json'));
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(path.join(dir, 'dist', `${process.platform}-${arch}`, 'dawn.node')) as Dawn;
    } catch {
      return `npm package "webgpu" did not load (${(e as Error).message.split('\n')[0]})`;
    }
  }
}

/**
 * Whether asking Dawn for a Vulkan adapter can succeed. Without a loader Dawn only prints a
 * warning, so the automatic choice checks first and stays quiet on machines without Vulkan;
 * a machine whose only driver is lavapipe (which Dawn rejects) counts as none.
 */
export function vulkanPresent(): boolean {
  if (process.platform !== 'linux') return true; // Metal / D3D12: let Dawn decide
  const libDirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)];
  let loader = libDirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
  try {
    loader ||= fs.readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    /* no cache: only LD_LIBRARY_PATH counts */
  }
  if (!loader) return false;
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return true;
  const icdDirs = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  return icdDirs.some((d) => {
    try {
      return fs.readdirSync(d).some((f) => f.endsWith('.json') && !/lvp|lavapipe/i.test(f));
    } catch {
      return false;
    }
  });
}

interface Candidate {
  options: string[];
  featureLevel: 'core' | 'compatibility';
  backend: string;
}

/** Where to look: RARLHF_WEBGPU_DAWN (Dawn options separated by ';') alone, else Vulkan, then GL ES. */
function candidates(allowSoftware: boolean): Candidate[] {
  const custom = process.env.RARLHF_WEBGPU_DAWN;
  if (custom !== undefined) {
    const options = custom.split(';').map((s) => s.trim()).filter(Boolean);
    const backend = /^backend=(.*)$/.exec(options.find((o) => o.startsWith('backend=')) ?? '')?.[1] ?? 'default';
    return [{ options, featureLevel: 'core', backend }, { options, featureLevel: 'compatibility', backend }];
  }
  const out: Candidate[] = [];
  // Dawn's own choice: Vulkan on Linux (Metal / D3D12 elsewhere)
  if (vulkanPresent()) out.push({ options: [], featureLevel: 'core', backend: process.platform === 'linux' ? 'vulkan' : 'default' });
  // Mesa's EGL needs a platform without a display server; 'surfaceless' always exists.
  if (allowSoftware) out.push({ options: ['backend=opengles'], featureLevel: 'compatibility', backend: 'opengles' });
  return out;
}

function describe(info: Record<string, unknown>, c: Candidate): WebGPUAdapterInfo {
  const s = (k: string) => String(info[k] ?? '');
  const software = isSoftwareAdapter(info);
  const label = s('description') || s('device') || s('vendor') || 'unknown adapter';
  const device = s('device') && !label.includes(s('device')) ? `${s('device')}, ` : '';
  const how = [c.backend, c.featureLevel === 'compatibility' ? 'compatibility' : '', software ? 'software' : ''].filter(Boolean).join(', ');
  return { name: `${device}${label} (${how})`, vendor: s('vendor'), architecture: s('architecture'), device: s('device'), description: s('description'), backend: c.backend, featureLevel: c.featureLevel, software };
}

let registered: { adapter: WebGPUAdapterInfo } | null = null;
let keepAlive: GPULike | null = null; // dawn.node lives as long as the object create() returned

function installNavigator(gpu: GPULike): void {
  const g = globalThis as { navigator?: Record<string, unknown> };
  if (g.navigator && typeof g.navigator === 'object') {
    try {
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
      if (g.navigator.gpu === gpu) return;
    } catch {
      /* Node's own navigator refused the property: replace the object */
    }
  }
  Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu }, configurable: true, writable: true });
}

/**
 * Find an adapter and register the tfjs backend 'webgpu' for it (does not switch to it).
 * `allowSoftware` false: only a hardware adapter counts. Idempotent once it succeeded.
 */
export async function registerWebGPU(opts: { allowSoftware: boolean }): Promise<WebGPUProbe> {
  if (registered) {
    if (registered.adapter.software && !opts.allowSoftware) return { ok: false, reason: `only a software adapter (${registered.adapter.name})` };
    return { ok: true, adapter: registered.adapter };
  }
  // candidates first: without one, dawn.node (21 MB) is not even loaded
  const list = candidates(opts.allowSoftware);
  if (list.length === 0) return { ok: false, reason: 'no Vulkan loader and driver (libvulkan.so.1 + an ICD other than lavapipe)' };
  const dawn = loadDawn();
  if (typeof dawn === 'string') return { ok: false, reason: dawn };
  const tried: string[] = [];
  for (const c of list) {
    if (c.backend === 'opengles' || c.backend === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
    let adapter: AdapterLike | null = null;
    let gpu: GPULike;
    try {
      gpu = dawn.create(c.options);
      adapter = await captureDawnTick(() => gpu.requestAdapter({ powerPreference: 'high-performance', featureLevel: c.featureLevel }));
    } catch (e) {
      tried.push(`${c.backend}/${c.featureLevel}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    if (!adapter) {
      const hint = c.backend === 'opengles' ? ' (the software route needs Mesa EGL: apt-get install libegl-dev libegl-mesa0 libgl1-mesa-dri)' : '';
      tried.push(`${c.backend}/${c.featureLevel}: no adapter${hint}`);
      continue;
    }
    const info = describe(adapter.info, c);
    if (info.software && !opts.allowSoftware) {
      tried.push(`${c.backend}/${c.featureLevel}: software adapter ${info.name} skipped`);
      continue;
    }
    Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, ... as in a browser
    installNavigator(gpu);
    keepAlive = gpu;
    try {
      registerBackend(adapter, info);
    } catch (e) {
      return { ok: false, reason: `@tensorflow/tfjs-backend-webgpu did not load (${(e as Error).message.split('\n')[0]})` };
    }
    registered = { adapter: info };
    return { ok: true, adapter: info };
  }
  return { ok: false, reason: tried.join('; ') };
}

/** The adapter the 'webgpu' backend was registered with (null before registerWebGPU succeeded). */
export function webgpuAdapter(): WebGPUAdapterInfo | null {
  return registered?.adapter ?? null;
}

type WebGPUBackendCtor = new (device: unknown, info: unknown) => tf.KernelBackend;

function registerBackend(adapter: AdapterLike, info: WebGPUAdapterInfo): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('@tensorflow/tfjs-backend-webgpu') as { WebGPUBackend: WebGPUBackendCtor; webgpu_util: Parameters<typeof registerWebGPUKernels>[0] };
  const Backend = withSyncRead(pkg.WebGPUBackend);
  registerWebGPUKernels(pkg.webgpu_util);
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const l = adapter.limits;
      const want = ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize',
        'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'];
      const requiredLimits = Object.fromEntries(want.filter((k) => typeof l[k] === 'number').map((k) => [k, l[k]]));
      const device = await captureDawnTick(() => adapter.requestDevice({ requiredFeatures: [], requiredLimits }));
      device.lost.then((e) => process.stderr.write(`[rarlhf] webgpu device lost: ${e.message}\n`)).catch(() => undefined);
      device.addEventListener?.('uncapturederror', (e) => process.stderr.write(`[rarlhf] webgpu error: ${e.error?.message ?? 'unknown'}\n`));
      return new Backend(device, adapter.info);
    },
    // below wasm (2) and cpu (1) would also be fine: initEngine always names the backend it wants
    0,
  );
  void info;
}

// --- synchronous reads -------------------------------------------------------------------------

interface TensorData {
  values: tf.backend_util.BackendValues | null;
  dtype: tf.DataType;
  resource: unknown;
  complexTensorInfos?: { real: tf.TensorInfo; imag: tf.TensorInfo };
}
interface BackendInternals {
  tensorMap: { get(id: unknown): TensorData };
  bufferManager: { acquireBuffer(size: number, usage: number): StagingBuffer; releaseBuffer(b: StagingBuffer): void };
  commandEncoder: { copyBufferToBuffer(src: unknown, so: number, dst: unknown, d: number, size: number): void };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  convertAndCacheOnCPU(id: unknown, v: tf.backend_util.BackendValues): tf.backend_util.BackendValues;
}
interface StagingBuffer {
  size: number;
  mapAsync(mode: number): Promise<void>;
  mapState: string;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}

const G = globalThis as unknown as { GPUBufferUsage: Record<string, number>; GPUMapMode: Record<string, number> };

/** Subclass whose readSync copies to a staging buffer and waits for the map (same steps as its async read). */
function withSyncRead(Base: WebGPUBackendCtor): WebGPUBackendCtor {
  return class NodeWebGPUBackend extends Base {
    override readSync(dataId: object): tf.backend_util.BackendValues {
      const self = this as unknown as BackendInternals;
      const td = self.tensorMap.get(dataId);
      if (td.values != null || td.dtype === 'string') return td.values!;
      if (td.dtype === 'complex64') {
        const re = this.readSync(td.complexTensorInfos!.real.dataId) as Float32Array;
        const im = this.readSync(td.complexTensorInfos!.imag.dataId) as Float32Array;
        return self.convertAndCacheOnCPU(dataId, tf.backend_util.mergeRealAndImagArrays(re, im));
      }
      const src = td.resource as StagingBuffer;
      const staging = self.bufferManager.acquireBuffer(src.size, G.GPUBufferUsage.COPY_DST | G.GPUBufferUsage.MAP_READ);
      self.ensureCommandEncoderReady();
      self.endComputePassEncoder();
      self.commandEncoder.copyBufferToBuffer(src, 0, staging, 0, src.size);
      self.submitQueue();
      waitMapped(staging, G.GPUMapMode.READ);
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      self.bufferManager.releaseBuffer(staging);
      const vals = tf.util.convertBackendValuesAndArrayBuffer(bytes, td.dtype) as tf.backend_util.BackendValues;
      return self.convertAndCacheOnCPU(dataId, vals);
    }
  };
}
