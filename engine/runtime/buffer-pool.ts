/**
 * GPU buffers are expensive to create and cheap to reuse, so freed buffers go into size buckets. A buffer
 * released while commands that use it are still being recorded must not be handed out again before those
 * commands are submitted (a later queue.writeBuffer would otherwise land before them): releases are parked
 * in `pending` and move to the free lists only when the runtime reports the submit.
 */
export const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Round a byte size up to its bucket: 256-byte steps up to 4 KiB, then four steps per power of two (waste < 25%). */
export function bucketSize(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private usageOf = new WeakMap<GPUBuffer, number>();
  /** Bytes of every buffer this pool has created and not destroyed. */
  allocatedBytes = 0;
  /** Bytes sitting in free lists (or pending) ready for reuse. */
  freeBytes = 0;
  buffersCreated = 0;

  constructor(
    private device: GPUDevice,
    private maxBufferSize: number,
  ) {}

  acquire(bytes: number, usage: number = STORAGE_USAGE, label = 'tensor'): GPUBuffer {
    const size = bucketSize(bytes);
    if (size > this.maxBufferSize) {
      throw new Error(`${label}: a buffer of ${bytes} bytes exceeds this adapter's maxBufferSize (${this.maxBufferSize} bytes)`);
    }
    const list = this.free.get(key(size, usage));
    const reused = list?.pop();
    if (reused) {
      this.freeBytes -= size;
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage, label });
    this.usageOf.set(buffer, usage);
    this.allocatedBytes += size;
    this.buffersCreated++;
    return buffer;
  }

  /** Return a buffer; it becomes reusable after the next submit. */
  release(buffer: GPUBuffer): void {
    this.pending.push(buffer);
    this.freeBytes += buffer.size;
  }

  /** Called by the runtime right after a queue submit: parked buffers become reusable. */
  onSubmitted(): void {
    for (const b of this.pending) {
      const k = key(b.size, this.usageOf.get(b) ?? STORAGE_USAGE);
      let list = this.free.get(k);
      if (!list) this.free.set(k, (list = []));
      list.push(b);
    }
    this.pending.length = 0;
  }

  /** Destroy every free buffer (e.g. between benchmark cases). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.allocatedBytes -= b.size;
        this.freeBytes -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }
}

function key(size: number, usage: number): string {
  return `${size}:${usage}`;
}
