/**
 * The runtime owns the device and turns kernel dispatches into GPU work:
 * - a pipeline cache keyed by program key (a new shape never recompiles);
 * - one command encoder and one compute pass that batch many dispatches, submitted on readback or every
 *   `maxBatch` dispatches;
 * - one uniform arena per batch: each dispatch's uniforms are packed at a 256-byte aligned offset of a CPU
 *   buffer and written to the GPU with a single writeBuffer just before the submit;
 * - error scopes around each batch and each pipeline creation, turned into exceptions that name the op;
 * - the buffer pool, whose released buffers become reusable after the submit that used them;
 * - the loop-budget check of each dispatch's planned trip count (kernels/loop-budget.ts): always on an adapter
 *   that caps loops (llvmpipe), where an overrun would be a silently wrong result, and strict (every looping
 *   kernel must declare its count) with MLOCK_CHECK_LOOPS=1 or `loopCheck = 'strict'`, as in the tests;
 * - an optional observer told of every piece of work recorded, for profilers (bench/step-profile.ts).
 */
import { BufferPool, STORAGE_USAGE } from './buffer-pool.js';
import { bindingList, programWgsl, packUniforms, uniformLayout, type Dispatch, type KernelProgram } from '../../kernels/program.js';
import { adapterCapsLoops, checkTrips, hasLoop, type LoopCheck } from '../../kernels/loop-budget.js';
import type { AcquiredDevice, AdapterDescription } from '../gpu/adapter.js';

interface CompiledProgram {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  uniform: { offsets: number[]; size: number } | null;
  looping: boolean;
}

const UNIFORM_ARENA_BYTES = 64 * 1024;

/** One piece of work recorded into a batch, as an observer sees it. */
export interface RecordedWork {
  kind: 'dispatch' | 'copy' | 'clear' | 'write';
  /** The program's name for a dispatch. */
  op: string;
  /** Bytes of the buffers a dispatch binds (their pool-bucket sizes), or the bytes copied, cleared or written. */
  bytes: number;
}

export class GpuError extends Error {
  override name = 'GpuError';
}

export class Runtime {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  readonly info: AdapterDescription;
  readonly pool: BufferPool;
  readonly limits: GPUSupportedLimits;
  /** Dispatches per submit; a readback submits earlier. */
  maxBatch = 128;
  /** How dispatches are checked against the loop budget. */
  loopCheck: LoopCheck;
  private keepAlive: unknown;
  private pipelines = new Map<string, CompiledProgram>();
  private layouts = new Map<string, GPUBindGroupLayout>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batchOps: string[] = [];
  private uniformCpu = new ArrayBuffer(UNIFORM_ARENA_BYTES);
  private uniformView = new DataView(this.uniformCpu);
  private uniformUsed = 0;
  private uniformGpu: GPUBuffer | null = null;
  private readonly uniformAlign: number;
  private errorChecks: Promise<void>[] = [];
  private lostReason: string | null = null;
  dispatchCount = 0;
  submitCount = 0;
  /** Called after each piece of work is recorded (and before a full batch is submitted); null when not profiling. */
  observer: ((work: RecordedWork) => void) | null = null;

  constructor(acquired: AcquiredDevice) {
    this.device = acquired.device;
    this.adapter = acquired.adapter;
    this.info = acquired.info;
    this.keepAlive = acquired.keepAlive;
    this.limits = this.device.limits;
    this.uniformAlign = this.limits.minUniformBufferOffsetAlignment;
    this.pool = new BufferPool(this.device, this.limits.maxBufferSize);
    const strict = typeof process !== 'undefined' && process.env?.MLOCK_CHECK_LOOPS === '1';
    this.loopCheck = strict ? 'strict' : adapterCapsLoops(`${this.info.device} ${this.info.description}`) ? 'budget' : 'off';
    void this.device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
  }

  /** The keep-alive handle (Dawn's instance), exposed so it is plainly referenced for the runtime's life. */
  get platformHandle(): unknown {
    return this.keepAlive;
  }

  private checkUsable(op: string): void {
    if (this.lostReason !== null) throw new GpuError(`${op}: the GPU device was lost (${this.lostReason}); create a new engine`);
  }

  private compile(p: KernelProgram): CompiledProgram {
    const cached = this.pipelines.get(p.key);
    if (cached) return cached;
    const hasUniform = p.uniforms.length > 0;
    const bindings = bindingList(p);
    const layoutKey = `${hasUniform ? 'u' : ''}:${bindings.map((b) => (b.access === 'read' ? 'r' : b.access === 'uniform' ? 'u' : 'w')).join('')}`;
    let layout = this.layouts.get(layoutKey);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      let b = 0;
      if (hasUniform) entries.push({ binding: b++, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
      for (const { access } of bindings) {
        entries.push({
          binding: b++,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: access === 'read' ? 'read-only-storage' : access === 'uniform' ? 'uniform' : 'storage' },
        });
      }
      layout = this.device.createBindGroupLayout({ entries, label: `layout ${layoutKey}` });
      this.layouts.set(layoutKey, layout);
    }
    const code = programWgsl(p);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: p.name });
    const pipeline = this.device.createComputePipeline({
      label: p.name,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    this.track(
      this.device.popErrorScope().then((e) => {
        if (e) throw new GpuError(`${p.name}: its WGSL kernel failed to compile (key ${p.key}): ${e.message}`);
      }),
    );
    const compiled = { pipeline, layout, uniform: hasUniform ? uniformLayout(p.uniforms) : null, looping: hasLoop(code) };
    this.pipelines.set(p.key, compiled);
    return compiled;
  }

  /** Keep an error check for the next sync/readback; until then its rejection counts as handled. */
  private track(check: Promise<void>): void {
    check.catch(() => {});
    this.errorChecks.push(check);
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  private beginBatch(): void {
    this.encoder = this.device.createCommandEncoder();
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.uniformGpu = this.pool.acquire(UNIFORM_ARENA_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'uniform arena');
    this.uniformUsed = 0;
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) this.beginBatch();
    if (!this.pass) this.pass = this.encoder!.beginComputePass();
    return this.pass;
  }

  /**
   * Record a dispatch of `d.program` with a buffer for each of its bindings, by name: a whole buffer, or a range
   * of one (a 'window' binding: 64 KiB at an offset that is a multiple of minUniformBufferOffsetAlignment).
   */
  run(d: Dispatch, buffers: Readonly<Record<string, GPUBuffer | GPUBufferBinding>>): void {
    const p = d.program;
    this.checkUsable(p.name);
    const bindings = bindingList(p);
    const names = bindings.map((b) => b.name);
    const given = Object.keys(buffers);
    if (given.length !== names.length || names.some((n) => !(n in buffers))) {
      throw new Error(`${p.name}: kernel ${p.key} binds [${names.join(', ')}], got buffers for [${given.join(', ')}]`);
    }
    const uniforms = d.uniforms ?? {};
    const [x, y = 1, z = 1] = p.grid(uniforms);
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new Error(`${p.name}: dispatch (${x}, ${y}, ${z}) exceeds ${max} workgroups per dimension`);
    const compiled = this.compile(p);
    checkTrips(d, compiled.looping, this.loopCheck);
    if (compiled.uniform && this.uniformUsed + compiled.uniform.size > UNIFORM_ARENA_BYTES) this.flush();
    const pass = this.ensurePass();
    const entries: GPUBindGroupEntry[] = [];
    let b = 0;
    if (compiled.uniform) {
      const offset = this.uniformUsed;
      packUniforms(p.uniforms, uniforms, this.uniformView, offset, compiled.uniform);
      this.uniformUsed = Math.ceil((offset + compiled.uniform.size) / this.uniformAlign) * this.uniformAlign;
      entries.push({ binding: b++, resource: { buffer: this.uniformGpu!, offset, size: compiled.uniform.size } });
    }
    for (const name of names) {
      const bound = buffers[name]!;
      entries.push({ binding: b++, resource: 'buffer' in bound ? bound : { buffer: bound } });
    }
    const group = this.device.createBindGroup({ layout: compiled.layout, entries, label: p.name });
    pass.setPipeline(compiled.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    this.batchOps.push(p.name);
    this.dispatchCount++;
    const bytes = Object.values(buffers).reduce((sum, b) => sum + ('buffer' in b ? (b.size ?? b.buffer.size) : b.size), 0);
    this.observer?.({ kind: 'dispatch', op: p.name, bytes });
    if (this.batchOps.length >= this.maxBatch) this.flush();
  }

  /** Record a buffer-to-buffer copy in the current batch. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkUsable('copy');
    if (!this.encoder) this.beginBatch();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder!.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.batchOps.push('copy');
    this.observer?.({ kind: 'copy', op: 'copy', bytes });
  }

  /**
   * Record a zero-fill of the whole buffer in the current batch: it runs after every dispatch and copy recorded
   * before it (a queue.writeBuffer of zeros would run before them, at the next submit's start).
   */
  clear(buffer: GPUBuffer): void {
    this.checkUsable('clear');
    if (!this.encoder) this.beginBatch();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder!.clearBuffer(buffer);
    this.batchOps.push('clear');
    this.observer?.({ kind: 'clear', op: 'clear', bytes: buffer.size });
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    if (this.pass) this.pass.end();
    this.pass = null;
    if (this.uniformUsed > 0) this.device.queue.writeBuffer(this.uniformGpu!, 0, this.uniformCpu, 0, this.uniformUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.submitCount++;
    const ops = this.batchOps;
    const checks = [this.device.popErrorScope(), this.device.popErrorScope()];
    this.track(
      Promise.all(checks).then(([validation, oom]) => {
        const e = validation ?? oom;
        if (e) {
          const kind = validation ? 'WebGPU validation error' : 'GPU out of memory';
          const names = [...new Set(ops)].join(', ');
          throw new GpuError(`${kind} in a batch of ops [${names}]: ${e.message}`);
        }
      }),
    );
    this.pool.release(this.uniformGpu!);
    this.uniformGpu = null;
    this.encoder = null;
    this.batchOps = [];
    this.pool.onSubmitted();
  }

  /** Upload host data into a buffer (ordered before any later submit). */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.checkUsable('write');
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
    this.observer?.({ kind: 'write', op: 'write', bytes: data.byteLength });
  }

  /** Wait for every submitted batch and raise the first GPU error, naming its ops. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.raiseErrors();
  }

  private async raiseErrors(): Promise<void> {
    // Each error is reported once, to the first readback or sync after it; the device stays usable.
    const checks = this.errorChecks;
    this.errorChecks = [];
    await Promise.all(checks);
    if (this.lostReason !== null) throw new GpuError(`the GPU device was lost (${this.lostReason})`);
  }

  /** Read `bytes` bytes of `buffer` back to the host. */
  async read(buffer: GPUBuffer, bytes: number, op = 'read'): Promise<ArrayBuffer> {
    this.checkUsable(op);
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const staging = this.pool.acquire(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
    this.copy(buffer, 0, staging, 0, Math.min(size, buffer.size));
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, size);
    } catch (e) {
      await this.raiseErrors();
      throw new GpuError(`${op}: mapping the readback buffer failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.pool.release(staging);
    await this.raiseErrors();
    return out;
  }

  storageBuffer(bytes: number, label?: string): GPUBuffer {
    return this.pool.acquire(bytes, STORAGE_USAGE, label);
  }

  /** A pool buffer that kernels write as storage and bind in 64 KiB uniform windows (the 'uniform' matmul). */
  uniformWindowBuffer(bytes: number, label = 'matmul windows'): GPUBuffer {
    return this.pool.acquire(bytes, STORAGE_USAGE | GPUBufferUsage.UNIFORM, label);
  }

  destroy(): void {
    this.flush();
    this.pool.trim();
    this.device.destroy();
  }
}
