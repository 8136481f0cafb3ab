// A small line chart in plain SVG: one value per day per series, solid or dashed, with a legend.
const ns = 'http://www.w3.org/2000/svg';
const palette = ['#1f5fbf', '#c2410c', '#1e7a3c', '#7c3aed', '#b91c1c', '#0e7490', '#a16207', '#be185d'];

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(ns, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function colour(index) { return palette[index % palette.length]; }

/**
 * days: ['2025-03-01', ...]; series: [{ name, values: [n per day], dashed, colour }]. Returns a figure holding the
 * SVG (scaled to its container's width; width and height set the drawing's proportions and text size) and a legend; the SVG's label sums each series for screen readers.
 */
export function lineChart(title, days, series, { width = 640, height = 220 } = {}) {
  const left = 36, right = 12, top = 12, bottom = 34;
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  const max = Math.max(1, ...series.flatMap(s => s.values));
  const step = max <= 5 ? 1 : Math.ceil(max / 5);
  const yMax = Math.ceil(max / step) * step;
  const x = i => left + (days.length <= 1 ? plotWidth / 2 : (i * plotWidth) / (days.length - 1));
  const y = v => top + plotHeight - (v * plotHeight) / yMax;
  const totals = series.map(s => `${s.name}: ${s.values.reduce((a, b) => a + b, 0)}`).join(', ');
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': `${title}. Totals: ${totals}` });
  chart.append(svg('title', {}, title));
  for (let v = 0; v <= yMax; v += step) {
    chart.append(svg('line', { x1: left, x2: width - right, y1: y(v), y2: y(v), class: 'grid' }));
    chart.append(svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, v));
  }
  const labelEvery = Math.max(1, Math.ceil(days.length / 6));
  days.forEach((day, i) => {
    if (i % labelEvery === 0 || i === days.length - 1) {
      chart.append(svg('text', { x: x(i), y: height - bottom + 16, 'text-anchor': 'middle' }, day.slice(5)));
    }
  });
  series.forEach((s, index) => {
    const stroke = s.colour ?? colour(index);
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const line = svg('polyline', { points, fill: 'none', stroke, 'stroke-width': 2, 'data-series': s.name });
    if (s.dashed) line.setAttribute('stroke-dasharray', '6 4');
    chart.append(line);
    s.values.forEach((v, i) => {
      if (v > 0) chart.append(svg('circle', { cx: x(i), cy: y(v), r: 2.5, fill: stroke }, undefined));
    });
  });
  const legend = document.createElement('ul');
  legend.className = 'legend';
  series.forEach((s, index) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = s.dashed ? 'swatch dashed' : 'swatch';
    swatch.style.borderTopColor = s.colour ?? colour(index);
    item.append(swatch, s.name);
    legend.append(item);
  });
  const figure = document.createElement('figure');
  figure.className = 'chart-figure';
  figure.style.margin = '0';
  figure.append(chart, legend);
  return figure;
}

/** Every day from first to last inclusive, as yyyy-MM-dd (UTC). */
export function daysBetween(first, last) {
  const days = [];
  for (let d = new Date(`${first}T00:00:00Z`); d <= new Date(`${last}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + 1)) {
    days.push(d.toISOString().slice(0, 10));
  }
  return days;
}
