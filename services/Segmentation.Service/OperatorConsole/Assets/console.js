// Shared by every page: the header with the admin key, calls to the admin API, errors shown on the page.
const keyStorage = 'segmentation.adminKey';

export class ApiError extends Error {
  constructor(message, status, body) { super(message); this.status = status; this.body = body; }
}

export function adminKey() { return sessionStorage.getItem(keyStorage) ?? ''; }

/** Calls the admin API with the key from sessionStorage (when one was given); throws ApiError with the API's own words. */
export async function api(path, { method = 'GET', body, contentType } = {}) {
  const headers = {};
  if (adminKey()) headers['X-Api-Key'] = adminKey();
  if (contentType) headers['Content-Type'] = contentType;
  let response;
  try {
    response = await fetch(path, { method, body, headers });
  } catch (e) {
    throw new ApiError(`The service does not answer (${e.message}).`, 0, null);
  }
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) {
    const said = json?.error ?? (Array.isArray(json?.errors) ? json.errors.join('\n') : null) ?? (text || response.statusText);
    const hint = response.status === 401 ? '\nEnter an admin key at the top of the page.' : '';
    throw new ApiError(`${method} ${path}: ${response.status} ${said}${hint}`, response.status, json);
  }
  return json;
}

/** Builds an element: el('td', { class: 'num' }, 'text', otherNode). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function when(iso) {
  if (!iso) return '-';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

/** A lag for people: milliseconds under a second, then seconds, minutes, hours, days. */
export function duration(seconds) {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

/** What is left of the re-evaluation after an activation, with its rate and the time it will take when measured. */
export function reevaluationText(r) {
  if (r.remaining === 0) return `done: every customer is evaluated with ${r.version}`;
  const rate = r.customersPerSecond ? `, ${Math.round(r.customersPerSecond)} customers/s, about ${duration(r.secondsLeft)} left` : '';
  return `${r.done} of ${r.customersAtActivation} customers evaluated with ${r.version}, ${r.remaining} to go${rate}`;
}

/** Shows a failure in the page's alert box; focus moves there only when the message is new (a retry failing again keeps the focus). */
export function showError(error) {
  const box = document.getElementById('error');
  const message = error instanceof Error ? error.message : String(error);
  if (box.textContent === message) return;
  box.textContent = message;
  box.focus();
}

export function clearError() { document.getElementById('error').textContent = ''; }

/** Runs an action; a failure is shown on the page instead of being lost in the browser's console, a success clears it. */
export async function guarded(action) {
  try {
    const result = await action();
    clearError();
    return result;
  } catch (e) {
    showError(e);
    return undefined;
  }
}

const pages = [['/', 'Overview'], ['/rulesets.html', 'Rulesets'], ['/customer.html', 'Customer']];

/** The header every page shares: navigation and the admin-key field (kept in this tab's sessionStorage). */
export function header(current) {
  const input = el('input', { type: 'password', id: 'admin-key', autocomplete: 'off', placeholder: 'X-Api-Key', 'aria-describedby': 'key-state' });
  input.value = adminKey();
  const state = el('span', { id: 'key-state', class: 'status' }, adminKey() ? 'key set for this tab' : 'no key: reads only');
  const form = el('form', {
    class: 'key',
    onsubmit: (event) => {
      event.preventDefault();
      if (input.value) sessionStorage.setItem(keyStorage, input.value); else sessionStorage.removeItem(keyStorage);
      state.textContent = input.value ? 'key set for this tab' : 'no key: reads only';
      document.dispatchEvent(new CustomEvent('adminkeychange'));
    },
  }, el('label', { for: 'admin-key' }, 'Admin key'), input, el('button', { type: 'submit', id: 'save-key', class: 'secondary' }, 'Use key'), state);
  const nav = el('nav', { 'aria-label': 'Console pages' },
    pages.map(([href, name]) => el('a', { href, 'aria-current': name === current ? 'page' : null }, name)));
  document.body.prepend(el('header', { class: 'top' }, el('span', { class: 'brand' }, 'Segmentation console'), nav, form));
}
