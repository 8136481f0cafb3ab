import { api, el, guarded, header, when } from '/console.js';

header('Customer');

const input = document.getElementById('customer-id');
const sections = Object.fromEntries(['profile', 'explain', 'events'].map(id => [id, document.getElementById(id)]));

function table(id, headings, rows) {
  return el('div', { class: 'table-wrap' }, el('table', { id },
    el('thead', {}, el('tr', {}, headings.map(h => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: headings.length }, 'none')))));
}

function valueText(value) { return value === null || value === undefined ? 'null' : typeof value === 'object' ? JSON.stringify(value) : String(value); }

/** The sub-expressions that made a false condition false: into and/or/not while their parts are true/false, else the comparison itself. */
function failing(node) {
  if (node.value !== 'false') return [];
  const logical = node.parts.length > 0 && node.parts.every(p => p.value === 'true' || p.value === 'false');
  const deeper = logical ? node.parts.flatMap(failing) : [];
  return deeper.length ? deeper : [node];
}

function tree(node) {
  const state = node.value === 'false' ? 'failed' : node.value === 'true' ? 'held' : null;
  return el('li', { class: state },
    el('span', { class: 'expr' }, node.expression), ' => ', el('span', { class: 'value' }, node.value),
    node.parts.length ? el('ul', { class: 'tree' }, node.parts.map(tree)) : null);
}

function explained(segment) {
  const { explanation } = segment;
  const failed = explanation.conditionHolds ? [] : failing(explanation.condition);
  const outcomeBadge = explanation.conditionHolds ? 'good' : 'bad';
  return el('article', { class: 'card explanation', 'data-segment': explanation.segment },
    el('h3', {}, explanation.segment, explanation.group ? el('span', { class: 'status' }, ` [${explanation.group}]`) : null, ' ',
      el('span', { class: `badge ${outcomeBadge}` }, explanation.conditionHolds ? 'condition holds' : 'condition fails')),
    el('p', { class: 'outcome' }, explanation.outcome),
    failed.length ? el('div', { class: 'failed-conditions' }, el('p', {}, 'Fails because:'),
      el('ul', {}, failed.map(f => el('li', {}, el('code', {}, f.expression), ' is false',
        f.parts.length ? [': ', f.parts.map(p => el('code', {}, `${p.expression} = ${p.value}`)).flatMap((c, i) => i ? [', ', c] : [c])] : null)))) : null,
    el('p', { class: 'status' },
      segment.heldSince ? `held since ${when(segment.heldSince)}; ` : '',
      segment.blocked ? `blocked: ${segment.blocked.reason}; ` : '',
      `condition can next change at ${when(segment.nextChangeAt)}`),
    el('details', {}, el('summary', {}, 'every sub-expression'), el('ul', { class: 'tree' }, tree(explanation.condition))));
}

async function lookUp(id) {
  Object.values(sections).forEach(s => s.replaceChildren());
  const path = `/customers/${encodeURIComponent(id)}`;
  const customer = await api(path);
  history.replaceState(null, '', `?id=${encodeURIComponent(id)}`);
  sections.profile.replaceChildren(
    el('h2', {}, `Customer ${customer.customerId}`),
    el('p', { class: 'status' }, `last evaluated with ${customer.rulesetVersion ?? '-'}; next check ${when(customer.nextCheckAt)}`),
    el('h3', {}, 'Held segments'),
    table('held', ['Segment', 'Since', 'Group', 'Channel', 'Ruleset'], Object.entries(customer.segments).map(([name, held]) =>
      el('tr', {}, el('th', { scope: 'row' }, name), el('td', {}, when(held.since)), el('td', {}, held.group ?? '-'), el('td', {}, held.channel ?? '-'), el('td', {}, held.rulesetVersion)))),
    el('h3', {}, 'Blocked segments'),
    table('blocked', ['Segment', 'Group', 'Reason'], customer.blocked.map(b =>
      el('tr', {}, el('th', { scope: 'row' }, b.segment), el('td', {}, b.group), el('td', {}, b.reason)))),
    el('h3', {}, 'Attributes'),
    table('attributes', ['Attribute', 'Value'], Object.entries(customer.attributes).map(([name, value]) =>
      el('tr', {}, el('th', { scope: 'row' }, name), el('td', {}, valueText(value))))),
    el('h3', {}, 'Event types'),
    table('event-types', ['Type', 'Count', 'First', 'Last'], Object.entries(customer.eventTypes).map(([type, summary]) =>
      el('tr', {}, el('th', { scope: 'row' }, type), el('td', { class: 'num' }, summary.count), el('td', {}, when(summary.firstAt)), el('td', {}, when(summary.lastAt))))));

  const [explanation, events] = await Promise.all([api(`${path}/explain`), api(`${path}/events?take=50`)]);
  sections.explain.replaceChildren(
    el('h2', {}, 'Live explain'),
    el('p', { class: 'status' }, `evaluated now (${when(explanation.at)}) under ${explanation.rulesetVersion}, nothing written`),
    el('div', { class: 'cards' }, explanation.segments.map(explained)));
  sections.events.replaceChildren(
    el('h2', {}, 'Recent events'),
    table('recent-events', ['#', 'What', 'At', 'Details'], events.map(e =>
      el('tr', {}, el('td', { class: 'num' }, e.version), el('td', {}, e.kind), el('td', {}, when(e.at)), el('td', {}, e.summary)))));
}

document.getElementById('lookup').addEventListener('submit', event => {
  event.preventDefault();
  guarded(() => lookUp(input.value.trim()));
});

async function knownCustomers() {
  const ids = await api('/customers?take=100');
  document.getElementById('known-customers').replaceChildren(...ids.map(id => el('option', { value: id })));
}

document.addEventListener('adminkeychange', () => guarded(knownCustomers));
const requested = new URLSearchParams(location.search).get('id');
await guarded(knownCustomers);
if (requested) {
  input.value = requested;
  await guarded(() => lookUp(requested));
}
