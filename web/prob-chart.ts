/** A horizontal bar chart of class probabilities, in plain DOM (readable by screen readers and by the tests). */

/** Draw one bar per class; the most likely class is highlighted. `data-top` on the chart names it. */
export function drawChart(container: HTMLElement, probabilities: ArrayLike<number>, classNames: readonly string[]): void {
  let top = 0;
  for (let k = 1; k < probabilities.length; k++) if (probabilities[k]! > probabilities[top]!) top = k;
  const rows = Array.from(classNames, (name, k) => {
    const p = probabilities[k]!;
    const row = document.createElement('div');
    row.className = k === top ? 'row-item top' : 'row-item';
    row.dataset.class = name;
    row.dataset.probability = String(p);
    const label = document.createElement('span');
    label.textContent = name;
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.setAttribute('role', 'meter');
    bar.setAttribute('aria-label', `class ${name}`);
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '1');
    bar.setAttribute('aria-valuenow', p.toFixed(4));
    const fill = document.createElement('span');
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    bar.append(fill);
    const value = document.createElement('span');
    value.className = 'value';
    value.textContent = `${(100 * p).toFixed(1)}%`;
    row.append(label, bar, value);
    return row;
  });
  container.replaceChildren(...rows);
  container.dataset.top = classNames[top];
}

/** Replace the chart with a short explanation (e.g. why there is nothing to show). */
export function clearChart(container: HTMLElement, message: string): void {
  const note = document.createElement('p');
  note.className = 'empty';
  note.textContent = message;
  container.replaceChildren(note);
  delete container.dataset.top;
}
