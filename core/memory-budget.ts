/**
 * What the resize job may hold in memory at once: a budget derived from the task's memory, and
 * each image's cost estimated from its header (pixels × bands × bytes per sample), so that
 * concurrency drops for large images and rises for small ones, and an image that alone cannot fit
 * fails with what to raise instead of the task being OOM-killed (exit 137) and retried into the
 * same death.
 */

const MiB = 1024 * 1024;

/**
 * An image's decode: PER_IMAGE_MIB plus PIPELINE_FACTOR × its decoded bytes (width × height ×
 * bands × bytes per sample). Measured with scripts/bench/render-peak.ts: the peak RSS of one
 * render() of the default presets in a fresh process, minus its RSS before (the compressed bytes
 * already read), over noise images as JPEG (baseline, progressive, EXIF-rotated), PNG (plain,
 * interlaced), TIFF (8- and 16-bit, LZW) and WebP of 12, 24 and 50 MP. libvips streams most of
 * them (a 50-MP baseline JPEG took 35 MB, a 50-MP 16-bit TIFF 143 MB for 286 MB of pixels); what
 * must be whole in memory costs most: a progressive JPEG (87, 115, 180 MB) and an interlaced PNG
 * (83, 95, 198 MB) for 34, 69 and 143 MB of pixels. 32 MiB + 1.5 × covers every one of them.
 */
export const PER_IMAGE_MIB = 32;
export const PIPELINE_FACTOR = 1.5;

/**
 * What the job process holds besides the images it renders: Node, sharp and libvips, the S3
 * client, the manifest read ahead (a resize job process starts at about 100 MB RSS), with room
 * for the heap's growth.
 */
export const BASELINE_MIB = 256;

/** Share of the task's memory the job plans to use at most: the rest absorbs fragmentation and estimate error. */
export const MEMORY_TARGET = 0.8;

export interface ImageShape {
  readonly width: number;
  readonly height: number;
  /** Channels as decoded (3 for RGB, 4 with alpha…). */
  readonly bands: number;
  readonly bytesPerSample: number;
  /** Whole copies of the decoded pixels the decoder keeps at once (2 for HEIC: libheif's WebAssembly memory and its copy in JavaScript); 1 when left out. */
  readonly decodedCopies?: number;
}

/** The bytes the images in flight may take: MEMORY_TARGET of the task's memory, less the baseline; 0 when nothing fits. */
export function budgetBytes(memoryMiB: number): number {
  return Math.max(0, Math.floor((memoryMiB * MEMORY_TARGET - BASELINE_MIB) * MiB));
}

/** One image's cost while it is rendered: its compressed bytes (held until its renditions are written) and its decode. */
export function imageCostBytes(shape: ImageShape, compressedBytes: number): number {
  const decoded = shape.width * shape.height * shape.bands * shape.bytesPerSample * (shape.decodedCopies ?? 1);
  return Math.ceil(compressedBytes + PER_IMAGE_MIB * MiB + decoded * PIPELINE_FACTOR);
}

/**
 * The one sentence an image too large for the job's memory fails with: how large it is, what it
 * needs, what the job has, and the setting to raise.
 */
export function tooLargeForMemory(shape: ImageShape, costBytes: number, memoryMiB: number): string {
  const mp = (shape.width * shape.height) / 1e6;
  const mib = (n: number) => `${Math.ceil(n / MiB).toLocaleString('en-US')} MiB`;
  return (
    `${shape.width}×${shape.height} (${mp.toFixed(1)} MP, ${shape.bands} bands of ${shape.bytesPerSample * 8} bits) needs about ${mib(costBytes)} to render, ` +
    `more than the ${mib(budgetBytes(memoryMiB))} this job may use for images with ${memoryMiB.toLocaleString('en-US')} MiB of memory: raise compute.resize.memoryMiB to at least ${minimumMemoryMiB(costBytes).toLocaleString('en-US')} (or leave such images out with filter.maxPixels)`
  );
}

/** The least task memory (MiB) whose budget admits an image of this cost. */
export function minimumMemoryMiB(costBytes: number): number {
  return Math.ceil((costBytes / MiB + BASELINE_MIB) / MEMORY_TARGET);
}

/** Thrown by acquire when a weight can never fit. */
export class OverBudgetError extends Error {
  override readonly name = 'OverBudgetError';
}

interface Waiter {
  readonly weight: number;
  readonly admit: (release: () => void) => void;
}

/**
 * A weighted semaphore, first come first served: a request is admitted when its weight fits in
 * what is free and every earlier request was admitted, so a large image waiting at the head is
 * never overtaken (starved) by a stream of small ones. A weight larger than the whole capacity is
 * refused at once: no amount of waiting would admit it.
 */
export class MemoryBudget {
  #used = 0;
  #holders = 0;
  readonly #queue: Waiter[] = [];

  constructor(readonly capacity: number) {
    if (!(capacity >= 0)) throw new RangeError(`capacity must be 0 or more, received ${capacity}`);
  }

  get used(): number {
    return this.#used;
  }

  /** Requests admitted and not yet given back. */
  get holders(): number {
    return this.#holders;
  }

  /** Requests waiting for room. */
  get waiting(): number {
    return this.#queue.length;
  }

  fits(weight: number): boolean {
    return weight <= this.capacity;
  }

  /** Resolves, once `weight` is admitted, with the function that gives it back (once; later calls do nothing). */
  acquire(weight: number): Promise<() => void> {
    if (!(weight >= 0)) return Promise.reject(new RangeError(`weight must be 0 or more, received ${weight}`));
    if (!this.fits(weight)) return Promise.reject(new OverBudgetError(`weight ${weight} exceeds the capacity ${this.capacity}`));
    return new Promise((admit) => {
      this.#queue.push({ weight, admit });
      this.#drain();
    });
  }

  #drain(): void {
    while (this.#queue.length > 0 && this.#used + this.#queue[0]!.weight <= this.capacity) {
      const { weight, admit } = this.#queue.shift()!;
      this.#used += weight;
      this.#holders++;
      let released = false;
      admit(() => {
        if (released) return;
        released = true;
        this.#used -= weight;
        this.#holders--;
        this.#drain();
      });
    }
  }
}
