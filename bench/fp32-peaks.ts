/**
 * Published fp32 peaks of GPUs, to say what fraction of its card a kernel reaches. These are the vendors' spec
 * sheet figures for plain fp32 (CUDA cores, no tensor cores, no TF32), at boost clock; a card that runs below its
 * boost clock reaches less. Matched against the adapter's description (Vulkan reports the marketing name, e.g.
 * "NVIDIA H100 80GB HBM3"); the more specific names come first.
 */
export interface Fp32Peak {
  /** The card the figure is for. */
  card: string;
  tflops: number;
  /** Where the figure is published. */
  source: string;
}

const PEAKS: readonly (Fp32Peak & { match: RegExp })[] = [
  // NVIDIA H100 Tensor Core GPU datasheet: FP32 67 TFLOPS (SXM), 51 (PCIe), 60 (NVL).
  { match: /H100.*PCIe/i, card: 'NVIDIA H100 PCIe', tflops: 51, source: 'NVIDIA H100 datasheet (FP32, PCIe)' },
  { match: /H100.*NVL/i, card: 'NVIDIA H100 NVL', tflops: 60, source: 'NVIDIA H100 datasheet (FP32, NVL)' },
  { match: /H100/i, card: 'NVIDIA H100 SXM', tflops: 67, source: 'NVIDIA H100 datasheet (FP32, SXM)' },
  // NVIDIA H200 Tensor Core GPU datasheet: FP32 67 TFLOPS (SXM), 60 (NVL).
  { match: /H200.*NVL/i, card: 'NVIDIA H200 NVL', tflops: 60, source: 'NVIDIA H200 datasheet (FP32, NVL)' },
  { match: /H200/i, card: 'NVIDIA H200 SXM', tflops: 67, source: 'NVIDIA H200 datasheet (FP32, SXM)' },
  // NVIDIA A100 Tensor Core GPU datasheet: FP32 19.5 TFLOPS (SXM and PCIe alike).
  { match: /A100/i, card: 'NVIDIA A100', tflops: 19.5, source: 'NVIDIA A100 datasheet (FP32)' },
  // NVIDIA L40S datasheet: FP32 91.6 TFLOPS; L40 datasheet: 90.5.
  { match: /L40S/i, card: 'NVIDIA L40S', tflops: 91.6, source: 'NVIDIA L40S datasheet (FP32)' },
  { match: /L40\b/i, card: 'NVIDIA L40', tflops: 90.5, source: 'NVIDIA L40 datasheet (FP32)' },
  // NVIDIA L4 Tensor Core GPU datasheet: FP32 30.3 TFLOPS.
  { match: /\bL4\b/i, card: 'NVIDIA L4', tflops: 30.3, source: 'NVIDIA L4 datasheet (FP32)' },
  // NVIDIA A10 Tensor Core GPU datasheet: FP32 31.2 TFLOPS.
  { match: /\bA10\b/i, card: 'NVIDIA A10', tflops: 31.2, source: 'NVIDIA A10 datasheet (FP32)' },
  // NVIDIA T4 Tensor Core GPU datasheet: single precision 8.1 TFLOPS.
  { match: /\bT4\b/i, card: 'NVIDIA T4', tflops: 8.1, source: 'NVIDIA T4 datasheet (FP32)' },
  // NVIDIA V100 Tensor Core GPU datasheet: single precision 15.7 TFLOPS (SXM2), 14 (PCIe).
  { match: /V100.*PCIe/i, card: 'NVIDIA V100 PCIe', tflops: 14, source: 'NVIDIA V100 datasheet (FP32, PCIe)' },
  { match: /V100/i, card: 'NVIDIA V100 SXM2', tflops: 15.7, source: 'NVIDIA V100 datasheet (FP32, SXM2)' },
];

/** The published fp32 peak of the card an adapter description names, or null ('unknown') for any other. */
export function fp32PeakFor(description: string): Fp32Peak | null {
  const hit = PEAKS.find((p) => p.match.test(description));
  return hit ? { card: hit.card, tflops: hit.tflops, source: hit.source } : null;
}
