/**
 * Every matmul of one MLP training step (bench/networks.ts's MLP at batch 128), timed with each configuration
 * that can run it, as GFLOP/s and as a fraction of the adapter's FMA ceiling:
 *
 *   npm run bench:matmuls [-- --quick] [-- --json FILE] [-- --markdown FILE]
 *
 * Per Linear layer: the forward product x W^T with its fused bias (and relu where one follows), the input gradient
 * g W (not for the first layer, whose input needs none) and the weight gradient g^T x, with their real shapes and
 * layouts. `runs as` is the configuration that actually runs (a vector configuration whose product does not allow
 * vec4 loads runs as the register kernel of its block); `heuristic` marks the rows that run what matmul picks
 * without tuning. A last product, matmul 1024^3 (nn), runs with the vector and uniform configurations only.
 * The configurations of a product are timed in alternating rounds (bursts of about 40 ms each, medians), so a busy
 * machine disturbs them alike. `--quick` leaves out the shared-memory configurations, which are slow on software
 * adapters.
 */
import * as E from '../engine/node.js';
import { Linear, ReLU } from '../engine/nn/index.js';
import { describeCeiling, fractionOfCeiling, measureFmaCeiling } from './fma-ceiling.js';
import { mlpWorkload } from './networks.js';
import { parseBenchOptions } from './options.js';
import { hostInfo, num, percent, printTable, writeJsonReport, writeMarkdownReport, type Column } from './report.js';

const options = parseBenchOptions(process.argv.slice(2), 'npm run bench:matmuls --');
await E.initEngine();
E.setMatmulAutotune(false);
const adapter = E.runtime().info;
const host = hostInfo();
const ceiling = await measureFmaCeiling({ quick: options.quick });
console.log(`FMA ceiling: ${describeCeiling(ceiling)}`);

interface Product {
  name: string;
  /** Per step: how many layers run this same product. */
  count: number;
  shapes: E.MatmulShapes;
  bias: number | null;
  relu: boolean;
  /** Only these configurations (a product too large for the slow ones); all when absent. */
  only?: readonly string[];
}

/** The step's products, one per distinct shape, layout and epilogue. */
function stepProducts(): Product[] {
  const w = mlpWorkload();
  const layers = w.model().layers;
  const products = new Map<string, Product>();
  const add = (name: string, shapes: E.MatmulShapes, bias: number | null, relu: boolean) => {
    const key = JSON.stringify([shapes, bias, relu]);
    const seen = products.get(key);
    if (seen) seen.count++;
    else products.set(key, { name, count: 1, shapes, bias, relu });
  };
  layers.forEach((layer, i) => {
    if (!(layer instanceof Linear)) return;
    const [b, inF, outF] = [w.batch, layer.inFeatures, layer.outFeatures];
    const relu = layers[i + 1] instanceof ReLU;
    add(`forward x W^T ${inF}->${outF}`, { a: [b, inF], b: [outF, inF], transposeB: true }, outF, relu);
    if (i > layers.findIndex((l) => l instanceof Linear))
      add(`input grad g W ${outF}->${inF}`, { a: [b, outF], b: [outF, inF] }, null, false);
    add(`weight grad g^T x ${inF}->${outF}`, { a: [b, outF], b: [b, inF], transposeA: true }, null, false);
  });
  return [...products.values()];
}

interface Row {
  product: string;
  count: number;
  mnk: string;
  layout: string;
  config: string;
  runsAs: string;
  heuristic: boolean;
  ms: number;
  gflops: number;
  ceiling: number | null;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rounds = options.quick ? 3 : 9;
const allConfigs = E.MATMUL_CONFIG_IDS.filter((id) => !(options.quick && id.startsWith('shared')));
const rows: Row[] = [];
/** matmul 1024^3 (not part of the step), with the configurations that can run it in reasonable time. */
const square: Product = {
  name: 'matmul 1024 (not in the step)',
  count: 0,
  shapes: { a: [1024, 1024], b: [1024, 1024] },
  bias: null,
  relu: false,
  only: E.MATMUL_CONFIG_IDS.filter((id) => /^(vector-(16x8|8x8)|uniform)-/.test(id)),
};
for (const p of [...stepProducts(), square]) {
  const configs = p.only ?? allConfigs;
  const [a, b] = [E.randn(p.shapes.a, { seed: 1 }), E.randn(p.shapes.b, { seed: 2 })];
  const bias = p.bias === null ? undefined : E.randn([p.bias], { seed: 3 });
  const matmulOptions = {
    transposeA: p.shapes.transposeA,
    transposeB: p.shapes.transposeB,
    bias,
    activation: p.relu ? 'relu' : 'none',
  } as const;
  const [m, k] = p.shapes.transposeA ? [p.shapes.a[1]!, p.shapes.a[0]!] : [p.shapes.a[0]!, p.shapes.a[1]!];
  const n = p.shapes.transposeB ? p.shapes.b[0]! : p.shapes.b[1]!;
  E.setMatmulVariant(null);
  const picked = E.matmulConfigFor(p.shapes).config;
  /** Milliseconds per product over a burst of `count`, ended by a readback. */
  const burst = async (id: string, count: number) => {
    E.setMatmulVariant(id);
    const start = performance.now();
    await E.scope(async () => {
      let c: E.Tensor | undefined;
      for (let r = 0; r < count; r++) c = E.matmul(a, b, matmulOptions);
      await c!.data();
    });
    return (performance.now() - start) / count;
  };
  const sizes = new Map<string, number>();
  for (const id of configs) {
    await burst(id, 1); // compiles the pipeline
    sizes.set(id, Math.max(1, Math.min(200, Math.round(40 / (await burst(id, 1))))));
  }
  const times = new Map<string, number[]>(configs.map((id) => [id, []]));
  for (let r = 0; r < rounds; r++) for (const id of configs) times.get(id)!.push(await burst(id, sizes.get(id)!));
  for (const id of configs) {
    E.setMatmulVariant(id);
    const runsAs = E.matmulConfigFor(p.shapes).config;
    const ms = median(times.get(id)!);
    const gflops = (2 * m * n * k) / (ms * 1e6);
    const layout = `${p.shapes.transposeA ? 't' : 'n'}${p.shapes.transposeB ? 't' : 'n'}`;
    rows.push({
      product: p.name,
      count: p.count,
      mnk: `${m}x${n}x${k}`,
      layout,
      config: id,
      runsAs,
      heuristic: runsAs === picked,
      ms,
      gflops,
      ceiling: fractionOfCeiling(gflops, ceiling.gflops),
    });
  }
  E.setMatmulVariant(null);
  for (const t of [a, b, bias]) t?.dispose();
}
rows.sort((x, y) => (x.product === y.product ? x.ms - y.ms : 0));

const columns: Column<Row>[] = [
  { title: 'product', value: (r) => r.product },
  { title: 'per step', value: (r) => String(r.count), right: true },
  { title: 'M x N x K', value: (r) => r.mnk },
  { title: 'layout', value: (r) => r.layout },
  { title: 'config', value: (r) => r.config },
  { title: 'runs as', value: (r) => (r.runsAs === r.config ? '' : r.runsAs) },
  { title: 'heuristic', value: (r) => (r.heuristic ? 'yes' : '') },
  { title: 'ms', value: (r) => num(r.ms, 3), right: true },
  { title: 'GFLOP/s', value: (r) => num(r.gflops, 2), right: true },
  { title: '% ceiling', value: (r) => percent(r.ceiling), right: true },
];
printTable(columns, rows);
const notes = [
  `${adapter.description} (${adapter.backend}); FMA ceiling ${describeCeiling(ceiling)}; ${host.cpus} CPUs, load ${host.loadAverage.map((x) => x.toFixed(1)).join(' ')}.`,
];
if (options.json) await writeJsonReport(options.json, { adapter, host, quick: options.quick, ceiling, rows });
if (options.markdown)
  await writeMarkdownReport(options.markdown, 'bench:matmuls: the MLP step matmuls, every configuration', columns, rows, notes);
