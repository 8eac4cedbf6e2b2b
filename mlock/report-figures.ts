/**
 * The report's two figures, from its summaries: authorized, unauthorized and baseline accuracy per dataset
 * and strategy (bars, with the spread over seeds and chance marked), and the near-miss curve (accuracy with
 * d cells of the real token changed, d = 1..8, one line per dataset and strategy, the 20% bound dashed).
 */
import { emptyChartSvg, groupedBarChartSvg, lineChartSvg, type BarGroup, type Series } from './plot.js';
import type { Summary } from './report-summary.js';

const DATASET_NAMES: Record<string, string> = { mnist: 'MNIST', 'fashion-mnist': 'Fashion-MNIST', cifar10: 'CIFAR-10', gtsrb: 'GTSRB' };
const STRATEGY_SHORT: Record<string, string> = { 'fixed-target': 'fixed target', 'random-label': 'random label', uniform: 'uniform' };

const NOTHING_YET = 'no locked row has finished yet (npm run report)';

export function accuracyFigureSvg(s: Summary): string {
  const title = 'M-LOCK: test accuracy with and without the token';
  if (!s.strategies.length) return emptyChartSvg(title, NOTHING_YET);
  const groups: BarGroup[] = s.strategies.map((x) => {
    const base = s.baselines.find((b) => b.dataset === x.dataset)?.accuracy;
    return {
      section: DATASET_NAMES[x.dataset] ?? x.dataset,
      label: STRATEGY_SHORT[x.strategy] ?? x.strategy,
      values: [base?.mean ?? null, x.authorized.mean, x.unauthorized.mean],
      errors: [base?.sd ?? null, x.authorized.sd, x.unauthorized.sd],
      reference: 1 / x.classes,
    };
  });
  return groupedBarChartSvg(
    groups,
    [
      { name: 'baseline (unlocked)', color: '#9e9e9e' },
      { name: 'authorized (token)', color: '#1f77b4' },
      { name: 'unauthorized (none)', color: '#d62728' },
    ],
    { title, yLabel: 'test accuracy (mean ± sd over seeds)', yMin: 0, yMax: 1, referenceLabel: 'chance (1/C)' },
  );
}

const COLOURS: Record<string, string> = { mnist: '#1f77b4', 'fashion-mnist': '#ff7f0e', cifar10: '#2ca02c', gtsrb: '#9467bd' };
const SHADE: Record<string, number> = { 'fixed-target': 0.55, 'random-label': 0.8, uniform: 1 };

/** The dataset's colour, lighter for the strategies drawn first, so lines of one dataset read as a family. */
function shade(hex: string, f: number): string {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `#${c
    .map((v) =>
      Math.round(255 - (255 - v) * f)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

export function nearMissFigureSvg(s: Summary): string {
  const title = 'Near-miss tokens: accuracy by cells changed';
  if (!s.strategies.length) return emptyChartSvg(title, NOTHING_YET);
  const series: Series[] = s.strategies.map((x) => ({
    name: `${DATASET_NAMES[x.dataset] ?? x.dataset}, ${STRATEGY_SHORT[x.strategy] ?? x.strategy}`,
    values: x.curve.map((c) => c.mean.mean),
    color: shade(COLOURS[x.dataset] ?? '#333333', SHADE[x.strategy] ?? 1),
    dashed: x.strategy === 'random-label',
  }));
  const distances = Math.max(1, ...s.strategies.map((x) => x.curve.length));
  series.push({ name: 'worst-case bound 20%', values: Array(distances).fill(0.2), color: '#999999', dashed: true });
  return lineChartSvg(series, {
    title,
    xLabel: 'cells of the real token changed',
    yLabel: 'test accuracy (mean over variants and seeds)',
    yMin: 0,
    yMax: 1,
    width: 820,
    height: 400,
    legendWidth: 230,
  });
}
