/** A running sum kept on the GPU: adding costs one dispatch and no readback; reading is explicit and rare. */
import { add } from '../ops/elementwise.js';
import { zeros } from '../ops/creation.js';
import { noGrad } from '../graph.js';
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';

export class GpuSum {
  private total: Tensor = keep(zeros([]));

  add(x: Tensor): void {
    const next = noGrad(() => add(this.total, x));
    this.total.dispose();
    this.total = keep(next);
  }

  value(): Promise<number> {
    return this.total.item();
  }

  dispose(): void {
    this.total.dispose();
  }
}
