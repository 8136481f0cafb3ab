import { api, duration, el, guarded, header, reevaluationText, when } from '/console.js';
import { lineChart } from '/chart.js';

header('Overview');

function figure(term, value, id) {
  return el('div', {}, el('dt', {}, term), el('dd', { id }, value));
}

function recorded(lag) {
  return lag ? `${duration(lag.seconds)} (at ${when(lag.recordedAt)})` : 'none recorded yet';
}

function render(overview) {
  const { ruleset, reevaluation } = overview;
  document.getElementById('ruleset').replaceChildren(
    figure('Version', ruleset.version, 'active-version'),
    figure('File', ruleset.fileName ?? '-'),
    figure('Activated by', ruleset.activatedBy ?? '-', 'activated-by'),
    figure('Activated at', when(ruleset.activatedAt)),
    figure('Re-evaluation', reevaluationText(reevaluation), 'reevaluation'));

  const queues = overview.errorQueues.queues
    ? overview.errorQueues.queues.map(q => figure(`Error queue ${q.queue}`, q.messages, null))
    : [figure('Error queues', overview.errorQueues.error)];
  const relay = overview.relay.progress;
  document.getElementById('operations').replaceChildren(...queues,
    figure('Relay position', `event ${relay.relayed} of ${relay.last} (${relay.behind} behind)`, 'relay-behind'),
    figure('Relay lag (last publish)', recorded(overview.relay.lastLag), 'relay-lag'),
    figure('Sweeper lag (last due evaluation)', recorded(overview.sweeper.lastLag), 'sweeper-lag'));

  const rows = overview.segments.map(s => {
    const entries = s.days.reduce((n, d) => n + d.entries, 0);
    const exits = s.days.reduce((n, d) => n + d.exits, 0);
    const blocked = s.blocked.length ? s.blocked.map(b => `${b.reason}: ${b.customers}`).join(', ') : '-';
    return el('tr', { 'data-segment': s.segment },
      el('th', { scope: 'row' }, s.segment), el('td', {}, s.group ?? '-'), el('td', {}, s.channel ?? '-'),
      el('td', { class: 'num' }, s.holders), el('td', { class: 'num' }, entries), el('td', { class: 'num' }, exits), el('td', {}, blocked));
  });
  document.querySelector('#segments tbody').replaceChildren(...rows);

  const charts = overview.segments.map(s => {
    const days = s.days.map(d => d.day);
    return el('article', { class: 'card', 'aria-label': `${s.segment}: entries and exits per day` },
      el('h3', {}, s.segment, ' ', el('span', { class: 'status' }, [s.group, s.channel].filter(Boolean).join(' · '))),
      lineChart(`${s.segment}: entries and exits per day, last 30 days`, days, [
        { name: 'entries', values: s.days.map(d => d.entries) },
        { name: 'exits', values: s.days.map(d => d.exits), dashed: true, colour: '#c2410c' },
      ], { width: 380, height: 170 }));
  });
  document.getElementById('segment-charts').replaceChildren(...charts);
  document.getElementById('updated').textContent = `as of ${when(overview.at)} (refreshes every 5 s)`;
}

async function refresh() {
  const overview = await guarded(() => api('/overview'));
  if (overview) render(overview);
  else document.getElementById('updated').textContent = 'could not load the overview; retrying every 5 s';
}

document.addEventListener('adminkeychange', refresh);
await refresh();
setInterval(refresh, 5000);
