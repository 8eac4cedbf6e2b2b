/** Small dependency-free SVG charts: line charts for training curves, grouped bar charts for the report. */
export interface Series {
  name: string;
  values: readonly number[];
  color: string;
  dashed?: boolean;
  /** 'right': drawn against a second y axis scaled to its own values (e.g. a loss next to accuracies). */
  axis?: 'left' | 'right';
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  yMin?: number;
  yMax?: number;
  /** Label of the right axis, drawn when a series uses it (it always starts at 0). */
  rightLabel?: string;
  width?: number;
  height?: number;
  /** Room on the right for the legend (default 150 px, 200 with a right axis). */
  legendWidth?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) ticks.push(Number(v.toPrecision(10)));
  return ticks;
}

/** The opening of a chart: the canvas, its title, and the left axis's grid lines with their labels. */
function frame(
  W: number,
  H: number,
  titleX: number,
  title: string,
  m: { l: number; r: number },
  ticks: readonly number[],
  py: (v: number) => number,
): string[] {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${titleX}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (const t of ticks) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  }
  return parts;
}

/** A line chart of several series over x = 1..n (epochs). */
export function lineChartSvg(series: readonly Series[], o: ChartOptions): string {
  const right = series.filter((s) => s.axis === 'right');
  const W = o.width ?? (right.length ? 740 : 640);
  const H = o.height ?? 360;
  const m = { l: 56, r: o.legendWidth ?? (right.length ? 200 : 150), t: 36, b: 44 };
  const plotRight = W - m.r + (right.length ? 50 : 0);
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const all = series
    .filter((s) => s.axis !== 'right')
    .flatMap((s) => s.values)
    .filter(Number.isFinite);
  const yMin = o.yMin ?? Math.min(0, ...all);
  const yMax = o.yMax ?? Math.max(1e-9, ...all);
  const rightValues = right.flatMap((s) => s.values).filter(Number.isFinite);
  // The right axis ends on the first tick at or above the largest value, so every point stays inside.
  const rTop = Math.max(1e-9, ...rightValues);
  const firstTicks = niceTicks(0, rTop);
  const rStep = firstTicks.length > 1 ? firstTicks[1]! - firstTicks[0]! : rTop;
  const rMax = Math.ceil(rTop / rStep - 1e-9) * rStep;
  const rightTicks = niceTicks(0, rMax);
  const px = (i: number) => m.l + (n === 1 ? 0.5 : i / (n - 1)) * (W - m.l - m.r);
  const scale = (v: number, lo: number, hi: number) => m.t + (1 - (v - lo) / (hi - lo || 1)) * (H - m.t - m.b);
  const py = (v: number) => scale(v, yMin, yMax);
  const pyOf = (s: Series) => (s.axis === 'right' ? (v: number) => scale(v, 0, rMax) : py);
  const parts = frame(W, H, W / 2 - m.r / 2, o.title, m, niceTicks(yMin, yMax), py);
  const xStep = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i < n; i += xStep) parts.push(`<text x="${px(i)}" y="${H - m.b + 16}" text-anchor="middle">${i + 1}</text>`);
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#333"/>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#333"/>`);
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  if (right.length) {
    const x = W - m.r;
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#333"/>`);
    for (const t of rightTicks) parts.push(`<text x="${x + 6}" y="${scale(t, 0, rMax) + 4}" text-anchor="start">${t}</text>`);
    parts.push(
      `<text transform="translate(${x + 42} ${(m.t + H - m.b) / 2}) rotate(90)" text-anchor="middle">${esc(o.rightLabel ?? '')}</text>`,
    );
  }
  series.forEach((s, k) => {
    const py = pyOf(s);
    const pts = s.values.map((v, i) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (s.values.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts}"/>`);
    s.values.forEach((v, i) => parts.push(`<circle cx="${px(i).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${s.color}"/>`));
    const ly = m.t + 10 + k * 20;
    parts.push(`<line x1="${plotRight + 12}" x2="${plotRight + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${plotRight + 42}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface BarGroup {
  label: string;
  /** One value per series; null draws no bar. */
  values: readonly (number | null)[];
  /** Half-length of each bar's error bar (e.g. a standard deviation); null or absent: none. */
  errors?: readonly (number | null)[];
  /** A dashed reference level across the group (e.g. chance). */
  reference?: number;
  /** Groups with the same section are drawn together under its name, sections apart. */
  section?: string;
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  yMin?: number;
  yMax?: number;
  /** Legend text of the groups' reference lines. */
  referenceLabel?: string;
  width?: number;
  height?: number;
}

/** Bars of several series side by side in each group, groups gathered in labelled sections. */
export function groupedBarChartSvg(
  groups: readonly BarGroup[],
  series: readonly { name: string; color: string }[],
  o: BarChartOptions,
): string {
  const W = o.width ?? Math.max(640, 60 * groups.length + 220);
  const H = o.height ?? 400;
  const m = { l: 56, r: 170, t: 36, b: 72 };
  const yMin = o.yMin ?? 0;
  const yMax = o.yMax ?? Math.max(1e-9, ...groups.flatMap((g) => g.values.map((v, i) => (v ?? 0) + (g.errors?.[i] ?? 0))));
  const py = (v: number) => m.t + (1 - (Math.min(Math.max(v, yMin), yMax) - yMin) / (yMax - yMin || 1)) * (H - m.t - m.b);
  // A gap of one bar's width between groups, three between sections.
  const slots: number[] = [];
  let x = 0;
  groups.forEach((g, i) => {
    if (i > 0) x += g.section !== groups[i - 1]!.section ? 3 : 1;
    slots.push(x);
    x += series.length;
  });
  const unit = (W - m.l - m.r) / Math.max(1, x + 1);
  const left = (i: number) => m.l + (slots[i]! + 0.5) * unit;
  const parts = frame(W, H, (m.l + W - m.r) / 2, o.title, m, niceTicks(yMin, yMax), py);
  groups.forEach((g, i) => {
    g.values.forEach((v, k) => {
      if (v === null || !Number.isFinite(v)) return;
      const bx = left(i) + k * unit;
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${py(v).toFixed(1)}" width="${(unit * 0.9).toFixed(1)}" height="${(py(yMin) - py(v)).toFixed(1)}" fill="${series[k]!.color}"><title>${esc(`${g.section ? `${g.section} ` : ''}${g.label}, ${series[k]!.name}: ${(100 * v).toFixed(1)}%`)}</title></rect>`,
      );
      const e = g.errors?.[k];
      if (e) {
        const cx = (bx + unit * 0.45).toFixed(1);
        parts.push(
          `<path d="M${cx} ${py(v - e).toFixed(1)}V${py(v + e).toFixed(1)}M${(bx + unit * 0.25).toFixed(1)} ${py(v + e).toFixed(1)}h${(unit * 0.4).toFixed(1)}M${(bx + unit * 0.25).toFixed(1)} ${py(v - e).toFixed(1)}h${(unit * 0.4).toFixed(1)}" stroke="#222" fill="none"/>`,
        );
      }
    });
    if (g.reference !== undefined) {
      parts.push(
        `<line x1="${(left(i) - 0.25 * unit).toFixed(1)}" x2="${(left(i) + (series.length + 0.15) * unit).toFixed(1)}" y1="${py(g.reference).toFixed(1)}" y2="${py(g.reference).toFixed(1)}" stroke="#555" stroke-dasharray="4 3"/>`,
      );
    }
    // One word per line: a group is only a few bars wide.
    const cx = (left(i) + (series.length * unit) / 2).toFixed(1);
    const words = g.label.split(' ').map((w, k) => `<tspan x="${cx}" dy="${k === 0 ? 0 : 13}">${esc(w)}</tspan>`);
    parts.push(`<text x="${cx}" y="${H - m.b + 16}" text-anchor="middle">${words.join('')}</text>`);
  });
  // Section names under their groups.
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (j + 1 < groups.length && groups[j + 1]!.section === groups[i]!.section) j++;
    const name = groups[i]!.section;
    if (name)
      parts.push(
        `<text x="${((left(i) + left(j) + series.length * unit) / 2).toFixed(1)}" y="${H - m.b + 46}" text-anchor="middle" font-weight="bold">${esc(name)}</text>`,
      );
    i = j + 1;
  }
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(yMin)}" y2="${py(yMin)}" stroke="#333"/>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#333"/>`);
  parts.push(`<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  const lx = W - m.r + 16;
  series.forEach((s, k) => {
    const ly = m.t + 10 + k * 20;
    parts.push(`<rect x="${lx}" y="${ly - 8}" width="14" height="12" fill="${s.color}"/>`);
    parts.push(`<text x="${lx + 20}" y="${ly + 3}">${esc(s.name)}</text>`);
  });
  if (o.referenceLabel && groups.some((g) => g.reference !== undefined)) {
    const ly = m.t + 10 + series.length * 20;
    parts.push(`<line x1="${lx}" x2="${lx + 14}" y1="${ly - 2}" y2="${ly - 2}" stroke="#555" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${lx + 20}" y="${ly + 3}">${esc(o.referenceLabel)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** A chart's place while it has nothing to show yet: its title and a line saying why. */
export function emptyChartSvg(title: string, message: string, width = 640, height = 120): string {
  return [
    ...frame(width, height, width / 2, title, { l: 0, r: 0 }, [], (v) => v),
    `<text x="${width / 2}" y="${height / 2 + 10}" text-anchor="middle" fill="#666">${esc(message)}</text>`,
    '</svg>',
  ].join('\n');
}
