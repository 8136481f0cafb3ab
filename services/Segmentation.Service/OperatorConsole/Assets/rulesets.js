import { ApiError, api, el, guarded, header, reevaluationText, when } from '/console.js';
import { daysBetween, lineChart } from '/chart.js';

header('Rulesets');

const candidate = document.getElementById('candidate');
const fileName = document.getElementById('file-name');
const sections = Object.fromEntries(['validation', 'conflicts', 'simulation', 'activation'].map(id => [id, document.getElementById(id)]));

function query() { return `fileName=${encodeURIComponent(fileName.value || 'candidate.yaml')}`; }

function post(path, extra = '') { return api(`${path}?${query()}${extra ? `&${extra}` : ''}`, { method: 'POST', body: candidate.value, contentType: 'application/yaml' }); }

async function loadVersions() {
  const versions = await api('/rulesets');
  const active = (await api('/rulesets/active')).inUse;
  document.querySelector('#versions tbody').replaceChildren(...versions.map(v => el('tr', { 'data-version': v.version },
    el('th', { scope: 'row' }, v.version, v.version === active ? el('span', { class: 'badge good' }, ' active') : null),
    el('td', {}, v.fileName),
    el('td', {}, `${v.uploadedBy} at ${when(v.uploadedAt)}`),
    el('td', {}, v.activatedAt ? `${v.activatedBy} at ${when(v.activatedAt)}` : '-'),
    el('td', {}, el('button', { type: 'button', class: 'secondary', onclick: () => guarded(() => showYaml(v.version)) }, `Show ${v.version}`)))));
}

async function showYaml(version) {
  const stored = await api(`/rulesets/${encodeURIComponent(version)}`);
  document.getElementById('version-yaml').replaceChildren(
    el('h3', {}, `${stored.version} (${stored.fileName})`),
    el('pre', { tabindex: 0, 'aria-label': `YAML of ${stored.version}` }, stored.yaml),
    el('button', { type: 'button', class: 'secondary', onclick: () => { candidate.value = stored.yaml; fileName.value = stored.fileName; candidate.focus(); } },
      'Edit as a candidate'));
}

/** The candidate's text with each error's line marked and a caret under its column. */
function annotated(errors) {
  const located = errors.map(text => {
    const match = /^(.*?):(\d+):(\d+): (.*)$/s.exec(text);
    return match ? { line: Number(match[2]), column: Number(match[3]), message: match[4], text } : { text };
  });
  const lines = candidate.value.split('\n');
  const items = [];
  lines.forEach((line, index) => {
    const number = index + 1;
    const here = located.filter(e => e.line === number);
    items.push(el('li', { class: here.length ? 'marked' : null, id: here.length ? `line-${number}` : null }, el('span', { class: 'n' }, number), line));
    for (const error of here) {
      items.push(el('li', { class: 'caret', 'data-line': number, 'data-column': error.column },
        el('span', { class: 'n' }, ''), `${' '.repeat(Math.max(0, error.column - 1))}^ ${number}:${error.column}: ${error.message}`));
    }
  });
  return [
    el('h2', {}, `Refused: ${errors.length} error${errors.length === 1 ? '' : 's'}`),
    el('ul', { id: 'validation-errors' }, located.map(e => el('li', {}, e.line ? el('a', { href: `#line-${e.line}` }, e.text) : e.text))),
    el('ol', { class: 'source', 'aria-label': 'the candidate with its errors marked' }, items),
  ];
}

function refusal(section, error) {
  if (error instanceof ApiError && error.status === 422 && Array.isArray(error.body?.errors)) {
    sections.validation.replaceChildren(...annotated(error.body.errors));
    return true;
  }
  section.replaceChildren();
  throw error;
}

function witnessLines(witness) {
  return witness.events.map(e => JSON.stringify({ eventId: e.eventId, customerId: 'witness', type: e.type, occurredAt: e.occurredAt, properties: e.properties })).join('\n');
}

async function check() {
  sections.validation.replaceChildren(el('p', { class: 'status' }, 'checking…'));
  sections.conflicts.replaceChildren();
  let report;
  try {
    report = await post('/rulesets/conflicts');
  } catch (e) {
    if (refusal(sections.validation, e)) return;
  }
  sections.validation.replaceChildren(el('h2', {}, 'Valid'), el('p', { id: 'validation-ok' }, `${fileName.value}: no errors.`));
  const findings = report.findings;
  sections.conflicts.replaceChildren(
    el('h2', {}, 'Conflict report'),
    el('p', { id: 'conflict-summary' }, `${findings.filter(f => f.kind === 'conflict').length} conflicts; `,
      report.accepted ? el('span', { class: 'badge good' }, 'accepted') : el('span', { class: 'badge bad' }, 'rejected: a group with on_conflict: reject has a conflict'),
      report.budgetExceeded ? el('span', { class: 'badge warn' }, ` budget exceeded, ${report.unanalysedPairs} pairs unanalysed`) : null),
    findings.length === 0 ? el('p', {}, 'No findings.') : el('div', { class: 'stack' }, findings.map(f => el('article', { class: 'card finding', 'data-kind': f.kind },
      el('h3', {}, `${f.kind}: ${f.segments.join(' / ')}`, f.group ? el('span', { class: 'status' }, ` group ${f.group}`) : null),
      el('p', {}, f.description),
      f.witness ? [
        el('p', {}, `Example customer at ${when(f.witness.at)} (JSON lines for segctl evaluate --at ${f.witness.at}):`),
        el('pre', { class: 'witness', tabindex: 0 }, witnessLines(f.witness)),
      ] : null))));
}

function perDay(map, days) { return days.map(d => map?.[d] ?? 0); }

async function simulate() {
  sections.simulation.replaceChildren(el('p', { class: 'status' }, 'replaying the last 30 days of the event log…'));
  let report;
  try {
    report = await post('/rulesets/simulate', 'days=30');
  } catch (e) {
    if (refusal(sections.simulation, e)) { sections.simulation.replaceChildren(); return; }
  }
  const days = daysBetween(report.from.slice(0, 10), report.to.slice(0, 10));
  const rows = report.segments.map(s => el('tr', { 'data-segment': s.segment },
    el('th', { scope: 'row' }, s.segment), el('td', {}, s.group ?? '-'), el('td', {}, s.channel ?? '-'),
    el('td', { class: 'num' }, s.holdersAtEnd), el('td', { class: 'num' }, s.entries), el('td', { class: 'num' }, s.exits),
    el('td', {}, Object.entries(s.blocked.heldBy).map(([by, n]) => `held by ${by}: ${n}`).concat(s.blocked.cooldown ? [`cooldown: ${s.blocked.cooldown}`] : []).join(', ') || '-'),
    el('td', { class: 'num' }, s.baseline?.holdersAtEnd ?? '-'), el('td', { class: 'num' }, s.baseline?.entries ?? '-'),
    el('td', {}, s.wouldEnter ? `${s.wouldEnter.count} ${s.wouldEnter.customers.slice(0, 5).join(', ')}` : '-'),
    el('td', {}, s.wouldLeave ? `${s.wouldLeave.count} ${s.wouldLeave.customers.slice(0, 5).join(', ')}` : '-')));
  const series = report.messages.flatMap(m => [
    { name: `${m.channel} candidate`, values: perDay(m.perDay, days) },
    { name: `${m.channel} baseline`, values: perDay(m.baselinePerDay, days), dashed: true },
  ]);
  sections.simulation.replaceChildren(
    el('h2', {}, 'Simulation against the active version'),
    el('p', { class: 'status' }, `replay ${when(report.from)} .. ${when(report.to)}: ${report.customers} customers; candidate ${report.candidate.fingerprint.slice(0, 12)} vs baseline ${report.baseline?.fingerprint?.slice(0, 12) ?? 'none'}`),
    el('div', { class: 'table-wrap' }, el('table', { id: 'simulation-table' },
      el('thead', {}, el('tr', {}, ['Segment', 'Group', 'Channel', 'Holders', 'Entries', 'Exits', 'Blocked', 'Baseline holders', 'Baseline entries', 'Would enter', 'Would leave']
        .map(h => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows))),
    el('h3', {}, 'Messages per day: candidate (solid) vs baseline (dashed)'),
    el('div', { id: 'messages-chart' }, series.length ? lineChart('Messages per day, candidate vs baseline', days, series)
      : el('p', {}, 'No segment with a channel: no messages.')));
}

async function activate() {
  sections.activation.replaceChildren(el('p', { class: 'status' }, 'uploading…'));
  let stored;
  try {
    stored = await post('/rulesets');
  } catch (e) {
    if (refusal(sections.activation, e)) { sections.activation.replaceChildren(); return; }
  }
  const activated = await api(`/rulesets/${encodeURIComponent(stored.version)}/activate`, { method: 'POST' });
  const bar = el('progress', { id: 'reevaluation-progress', max: 1, value: 0 });
  const text = el('span', { id: 'reevaluation-text' }, 'waiting for the service…');
  sections.activation.replaceChildren(el('h2', {}, 'Activation'),
    el('p', { id: 'activation-result' }, `${activated.version} activated by ${activated.activatedBy} at ${when(activated.activatedAt)}`),
    el('p', {}, el('label', { for: 'reevaluation-progress' }, 'Re-evaluation '), bar, ' ', text));
  await loadVersions();
  const deadline = Date.now() + 10 * 60 * 1000;
  while (Date.now() < deadline) {
    const { inUse, reevaluation } = await api('/rulesets/active');
    const current = inUse === stored.version;
    bar.max = Math.max(1, reevaluation.customersAtActivation);
    bar.value = current ? reevaluation.done : 0;
    text.textContent = current ? reevaluationText(reevaluation) : `the service still uses ${inUse}`;
    if (current && reevaluation.remaining === 0) return;
    await new Promise(resolve => setTimeout(resolve, 1000));
  }
}

document.getElementById('candidate-file').addEventListener('change', event => guarded(async () => {
  const file = event.target.files[0];
  if (!file) return;
  candidate.value = await file.text();
  fileName.value = file.name;
}));
document.getElementById('check').addEventListener('click', () => guarded(check));
document.getElementById('simulate').addEventListener('click', () => guarded(simulate));
document.getElementById('activate').addEventListener('click', () => guarded(activate));
document.addEventListener('adminkeychange', () => guarded(loadVersions));
await guarded(loadVersions);
