// One WebGPU device per process: Vulkan (core) first, then Dawn's GL ES backend on Mesa llvmpipe
// (compatibility feature level), which is how machines without a GPU run the engine.
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';

export interface GpuDevice {
  device: GPUDevice;
  /** e.g. "vulkan: NVIDIA H100 80GB HBM3" or "opengles: OpenGL ES 3.2 Mesa 22.3.6 (llvmpipe)". */
  description: string;
  limits: GPUSupportedLimits;
  /**
   * A CPU implementation (Mesa llvmpipe through GL ES, lavapipe or SwiftShader through Vulkan): the
   * engine then sizes workgroups to its SIMD width and works within gallivm's loop limiter, which
   * lavapipe shares with llvmpipe (engine.wgsl tick()).
   */
  software: boolean;
  /** The adapter's largest subgroup (warp) size, when it says (NVIDIA 32, AMD 64, llvmpipe 128). */
  subgroupMaxSize?: number;
}

/** Whether an adapter description names a software adapter (Mesa llvmpipe / lavapipe, SwiftShader). */
export function isSoftwareAdapter(description: string): boolean {
  return /^opengles:|llvmpipe|lavapipe|softpipe|swiftshader/i.test(description);
}

export type DeviceResult = { ok: true; gpu: GpuDevice } | { ok: false; reason: string };

let cached: Promise<DeviceResult> | null = null;
let lostMessage: string | null = null;
// Keep the create() result alive for as long as the device lives (dawn.node lifetime rule).
let instance: GPU | null = null;

const MiB = 1024 * 1024;

export function acquireDevice(): Promise<DeviceResult> {
  cached ??= open();
  return cached;
}

/** Device or a thrown Error that says why there is none. */
export async function requireDevice(): Promise<GpuDevice> {
  const r = await acquireDevice();
  if (!r.ok) throw new Error(`no WebGPU adapter: ${r.reason}`);
  if (lostMessage) throw new Error(lostMessage);
  return r.gpu;
}

/** Set when the device was lost; the engine checks it to turn hangs into clear errors. */
export function deviceLostMessage(): string | null {
  return lostMessage;
}

export async function releaseDevice(): Promise<void> {
  const c = cached;
  cached = null;
  if (!c) return;
  const r = await c;
  if (r.ok) r.gpu.device.destroy();
  instance = null;
}

async function open(): Promise<DeviceResult> {
  // Must be in the environment before the first create(); harmless for Vulkan.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  Object.assign(globalThis, globals);
  const reasons: string[] = [];
  const attempts: { flags: string[]; featureLevel?: 'compatibility'; backend: string }[] = [
    { flags: [], backend: 'vulkan' },
    { flags: ['backend=opengles'], featureLevel: 'compatibility', backend: 'opengles' },
  ];
  for (const a of attempts) {
    // Without a loader Dawn's Vulkan attempt only prints a stack trace to stderr.
    if (a.backend === 'vulkan' && process.platform === 'linux' && !vulkanLoaderPresent()) {
      reasons.push('vulkan: no Vulkan loader (libvulkan.so.1) found');
      continue;
    }
    try {
      const gpu = create(a.flags);
      const adapter = await gpu.requestAdapter(a.featureLevel ? ({ featureLevel: a.featureLevel } as GPURequestAdapterOptions) : {});
      if (!adapter) {
        reasons.push(`${a.backend}: no adapter`);
        continue;
      }
      const info = adapter.info;
      const backend = (info as { backend?: string }).backend ?? a.backend;
      const name = (info.description || info.vendor || 'unknown adapter').replace(/^OpenGL version /, '');
      const detail = (info.device || info.architecture || '').replace(/-+$/, '');
      const description = `${String(backend).toLowerCase().replace('opengl es', 'opengles')}: ${name}${detail && !name.includes(detail) ? ` (${detail})` : ''}`;
      const software = isSoftwareAdapter(description) || info.isFallbackAdapter === true;
      const device = await adapter.requestDevice({ requiredLimits: engineLimits(adapter.limits, software) });
      instance = gpu;
      void device.lost.then((lost) => {
        if (lost.reason !== 'destroyed') lostMessage = `WebGPU device lost (${lost.reason}): ${lost.message}`;
      });
      device.addEventListener?.('uncapturederror', (ev) => {
        // Surfaced by the engine's error scopes; log anything that escapes them.
        console.error(`WebGPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`);
      });
      const subgroupMaxSize = (info as { subgroupMaxSize?: number }).subgroupMaxSize || undefined;
      return { ok: true, gpu: { device, description, limits: device.limits, software, subgroupMaxSize } };
    } catch (e) {
      reasons.push(`${a.backend}: ${(e as Error).message}`);
    }
  }
  return { ok: false, reason: reasons.join('; ') };
}

/**
 * Limits to request: min(adapter, wanted). A software adapter keeps 128 MiB bindings and 1 GiB
 * buffers (its memory is the host's); a hardware adapter gets all it offers, so one chunk, one set
 * of bindings and one dispatch serve as many lanes as its memory allows (chunk sizing: engine.ts).
 */
export function engineLimits(al: GPUSupportedLimits, software: boolean): Record<string, number> {
  const want = (name: keyof GPUSupportedLimits, value: number) => Math.min(al[name] as number, value);
  return {
    maxStorageBuffersPerShaderStage: want('maxStorageBuffersPerShaderStage', 8),
    maxStorageBufferBindingSize: software ? want('maxStorageBufferBindingSize', 128 * MiB) : al.maxStorageBufferBindingSize,
    maxBufferSize: software ? want('maxBufferSize', 1024 * MiB) : al.maxBufferSize,
    maxComputeInvocationsPerWorkgroup: want('maxComputeInvocationsPerWorkgroup', 256),
    maxComputeWorkgroupSizeX: want('maxComputeWorkgroupSizeX', 256),
    maxComputeWorkgroupsPerDimension: want('maxComputeWorkgroupsPerDimension', 65535),
  };
}

function vulkanLoaderPresent(): boolean {
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/lib/x86_64-linux-gnu',
    '/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  return dirs.some((d) => existsSync(`${d}/libvulkan.so.1`));
}

/** Compiles WGSL into a compute pipeline; compile errors quote getCompilationInfo() with line numbers. */
export async function createComputePipeline(
  device: GPUDevice,
  code: string,
  layout: GPUPipelineLayout,
  label: string,
  entryPoint = 'main',
): Promise<GPUComputePipeline> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code, label });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    await device.popErrorScope();
    const lines = code.split('\n');
    const text = errors.map((m) => `  ${label}:${m.lineNum}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`).join('\n');
    throw new Error(`WGSL compile error in ${label}:\n${text}`);
  }
  const pipeline = await device.createComputePipelineAsync({ layout, compute: { module, entryPoint }, label });
  const err = await device.popErrorScope();
  if (err) throw new Error(`pipeline ${label}: ${err.message}`);
  return pipeline;
}
