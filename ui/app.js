// SPDX-License-Identifier: Apache-2.0
// signet's web UI: sign-in, the live task list, the approver's inbox, new tasks, notifications.
import { ApiError, call, currentSession, signIn, signOut, upload, TYPES, taskPath } from './api.js';
import { el, clear, $, timeEl, bytes } from './dom.js';
import { loadAudit, loadDeviceConfigList, loadKeys, setupOfficer } from './officer.js';

const TABS = ['tasks', 'inbox', 'new', 'configs', 'keys', 'audit', 'settings'];

const FINAL = new Set(['DONE', 'FAILED', 'REJECTED', 'EXPIRED', 'CANCELED']);
const REFUSALS = {
  otp_invalid: 'The code is wrong, or you have no TOTP seed: check your authenticator.',
  otp_replayed: 'This code was used already: wait for the next one.',
  locked_out: 'Too many wrong codes: your approvals are locked for 15 minutes.',
  self_approval: 'You requested this task: someone else must approve it.',
  denied: 'You may not do this.',
  conflict: 'The task no longer waits for a decision, you decided already, or (enrollment) you are enrolled already: the initial admin can enroll you again.',
  unauthenticated: 'Your session has ended: sign in again.',
  not_found: 'No such task, or you may not see it.',
  expired: 'The result is no longer available.',
  too_large: 'The file is too large.',
  quota_exceeded: 'Your spool quota is used up: cancel waiting tasks or wait for results to expire.',
  no_space: 'The appliance has no space left for this now.',
  unavailable: 'The appliance is busy or unavailable: try again shortly.',
  invalid: 'The request was refused.',
};

const state = {
  me: null,          // {user, tenant, ...}
  tasks: new Map(),  // id -> summary or record
  selected: null,
  inbox: new Map(),  // id -> record
  events: null,
};

function words(e) {
  if (e instanceof ApiError) {
    const w = REFUSALS[e.code];
    return w ? `${w} (${e.message})` : e.message;
  }
  return String(e && e.message ? e.message : e);
}

function subject() {
  return state.me ? `USER:${state.me.user}` : '';
}

// ---- storage of this browser's own facts (never a token) ----

function storeKey(what) {
  return `signet.${what}.${state.me.tenant}.${state.me.user}`;
}

function storedSet(what) {
  try {
    return new Set(JSON.parse(localStorage.getItem(storeKey(what)) || '[]'));
  } catch (e) {
    return new Set();
  }
}

function storedAdd(what, id) {
  const s = storedSet(what);
  s.add(id);
  localStorage.setItem(storeKey(what), JSON.stringify([...s].slice(-500)));
}

function autoDownload() {
  return localStorage.getItem('signet.autoDownload') !== 'off';
}

// ---- notices ----

function notify(text, kind) {
  const box = $('notices');
  const n = el('div', { className: `notice ${kind || ''}`, role: 'status' });
  const close = el('button', { type: 'button', className: 'secondary', 'aria-label': 'Dismiss', on: { click: () => n.remove() } }, '×');
  n.append(el('p', {}, text), close);
  box.append(n);
  while (box.children.length > 6) {
    box.firstChild.remove();
  }
  setTimeout(() => n.remove(), 20000);
}

// ---- views ----

function show(id) {
  for (const s of ['loading', 'signin', 'app']) {
    $(s).hidden = s !== id;
  }
  $('signout').hidden = id !== 'app';
}

function selectTab(name) {
  for (const t of TABS) {
    $(`tab-${t}`).setAttribute('aria-selected', String(t === name));
    $(`view-${t}`).hidden = t !== name;
  }
  if (name === 'new') {
    loadDeviceConfigs();
  } else if (name === 'configs') {
    loadDeviceConfigList();
  } else if (name === 'keys') {
    loadKeys();
  } else if (name === 'audit') {
    loadAudit();
  }
}

function statusEl(status) {
  return el('span', { className: `status status-${status}` }, status);
}

// ---- the task list ----

async function loadTasks() {
  const type = $('filter-type').value;
  const status = $('filter-status').value;
  const types = type ? [type] : Object.keys(TYPES);
  const q = new URLSearchParams({ size: '200' });
  if (status) {
    q.set('status', status);
  }
  try {
    const pages = await Promise.all(types.map((t) => call('GET', `/api/v1/${TYPES[t]}?${q}`)));
    state.tasks.clear();
    for (const p of pages) {
      for (const t of p.tasks || []) {
        state.tasks.set(t.id, t);
      }
    }
    renderTasks();
  } catch (e) {
    failed(e);
  }
}

function renderTasks() {
  const body = $('task-rows');
  clear(body);
  const rows = [...state.tasks.values()].sort((a, b) => (b.createdAt || 0) - (a.createdAt || 0));
  for (const t of rows) {
    const open = el('button', { type: 'button', className: 'linkish', on: { click: () => showDetails(t.id) } }, t.name || t.id);
    body.append(el('tr', { className: t.id === state.selected ? 'selected' : '', 'data-id': t.id },
      el('td', {}, open), el('td', {}, t.type), el('td', {}, statusEl(t.status)),
      el('td', {}, t.requester || ''), el('td', {}, timeEl(t.createdAt))));
  }
  $('tasks-empty').hidden = rows.length > 0;
}

function dlRow(list, term, ...value) {
  list.append(el('dt', {}, term), el('dd', {}, ...value));
}

function mono(s) {
  return el('span', { className: 'mono' }, s === null || s === undefined ? '—' : s);
}

let detailSeq = 0;
async function showDetails(id) {
  const summary = state.tasks.get(id);
  const seq = ++detailSeq;
  state.selected = id;
  renderTasks();
  try {
    const t = await call('GET', taskPath(summary.type, id));
    if (seq === detailSeq) { // an older answer that comes late does not overwrite a newer one
      renderDetails(t);
    }
  } catch (e) {
    failed(e);
  }
}

function inputsEl(t) {
  const ul = el('ul', {});
  for (const i of t.inputs || []) {
    ul.append(el('li', {}, el('span', {}, i.name), ' — ', bytes(i.size), el('br'),
      'sha256 ', mono(i.sha256)));
  }
  return ul;
}

function approvalsEl(t) {
  if (!t.approvals || t.approvals.length === 0) {
    return '—';
  }
  const ul = el('ul', {});
  for (const a of t.approvals) {
    ul.append(el('li', {}, `${a.decision} by ${a.approver} `, timeEl(a.time),
      a.reason ? ` — “${a.reason}”` : '', a.void ? ` (void: ${a.void})` : ''));
  }
  return ul;
}

function renderDetails(t) {
  const list = $('details-list');
  const actions = $('details-actions');
  clear(list);
  clear(actions);
  $('details').hidden = false;
  $('details-title').textContent = t.name || t.id;
  dlRow(list, 'Status', statusEl(t.status), t.reason ? ` — ${t.reason}` : '');
  dlRow(list, 'Type', t.type);
  dlRow(list, 'Id', mono(t.id));
  const pkg = packageEl(t);
  if (pkg) {
    dlRow(list, 'Package', pkg);
  } else {
    dlRow(list, 'Input', inputsEl(t));
  }
  dlRow(list, 'Device configuration', t.deviceConfigName || '', ' ', mono(t.deviceConfigId));
  dlRow(list, 'Requester', t.requester || '');
  if (t.approval && t.approval.required) {
    dlRow(list, 'Approval', `quorum ${t.approval.quorum}, second factor ${t.approval.secondFactor}`);
  }
  dlRow(list, 'Approvals', approvalsEl(t));
  dlRow(list, 'Created', timeEl(t.createdAt));
  if (t.finishedAt) {
    dlRow(list, 'Finished', timeEl(t.finishedAt));
  }
  const r = t.result;
  stopCountdown();
  if (r && r.sha256) {
    dlRow(list, 'Result', bytes(r.size), el('br'), 'sha256 ', mono(r.sha256));
    if (r.available === false) {
      dlRow(list, 'Result file', el('strong', { id: 'details-expired', className: 'expired' },
        'Expired: the file is no longer available'), r.expiredAt ? [' (', timeEl(r.expiredAt), ')'] : null);
    } else {
      const left = el('span', { id: 'details-ttl' });
      dlRow(list, 'Result expires', left, ' ', timeEl(r.expiresAt));
      startCountdown(left, r.expiresAt);
    }
  } else if (r && r.signature) {
    dlRow(list, 'Signature', `by key ${r.keyLabel || ''}`);
    const h = el('span', { className: 'mono' }, '…');
    dlRow(list, 'Signature sha256', h);
    sha256Hex(b64bytes(r.signature)).then((x) => { h.textContent = x; });
  }
  if (t.status === 'DONE' && (!r || r.available !== false)) {
    actions.append(el('button', { type: 'button', on: { click: () => download(t) } }, 'Download result'));
  }
  if (!FINAL.has(t.status) && t.requester === subject()) {
    actions.append(el('button', { type: 'button', className: 'danger', on: { click: () => cancel(t) } }, 'Cancel task'));
  }
}

// The time left of the shown result, second by second; the task.expired event ends it.
let countdown = null;
function stopCountdown() {
  clearInterval(countdown);
  countdown = null;
}

function timeLeft(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = h ? [`${h} h`, `${m} min`] : (m ? [`${m} min`, `${s % 60} s`] : [`${s % 60} s`]);
  return parts.join(' ');
}

function startCountdown(node, expiresAt) {
  const tick = () => {
    const left = expiresAt - Date.now() / 1000;
    node.textContent = left > 0 ? `${timeLeft(left)} left` : 'expiring now';
  };
  tick();
  countdown = setInterval(tick, 1000);
}

async function cancel(t) {
  try {
    await call('POST', `${taskPath(t.type, t.id)}/cancel`);
    notify(`Task “${t.name}” was cancelled.`);
    refresh();
  } catch (e) {
    failed(e);
  }
}

// ---- downloads ----

function b64bytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) {
    out[i] = bin.charCodeAt(i);
  }
  return out;
}

async function sha256Hex(data) {
  if (!window.crypto || !crypto.subtle) {
    return '(needs HTTPS)';
  }
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function saveAs(href, name) {
  const a = el('a', { href, download: name || '' });
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
}

async function download(t) {
  try {
    if (t.type === 'SIGNING') {
      const rec = t.result ? t : await call('GET', taskPath(t.type, t.id));
      const blob = new Blob([b64bytes(rec.result.signature)], { type: 'application/octet-stream' });
      const url = URL.createObjectURL(blob);
      saveAs(url, `${(rec.name || rec.id).replace(/[^A-Za-z0-9._-]/g, '_')}.sig`);
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } else {
      saveAs(`${taskPath(t.type, t.id)}/download`, '');
    }
    storedAdd('downloaded', t.id);
  } catch (e) {
    failed(e);
  }
}

// ---- the approver's inbox ----

function mayDecide(t) {
  if (t.status !== 'WAITING' || t.requester === subject()) {
    return false;
  }
  return !(t.approvals || []).some((a) => a.approver === subject() && !a.void);
}

async function loadInbox() {
  try {
    const pages = await Promise.all(Object.keys(TYPES).map((t) => call('GET', `/api/v1/${TYPES[t]}?status=WAITING&size=200`)));
    const ids = [];
    for (const p of pages) {
      for (const t of p.tasks || []) {
        if (t.requester !== subject()) {
          ids.push(t);
        }
      }
    }
    const recs = await Promise.all(ids.map((t) => call('GET', taskPath(t.type, t.id)).catch(() => null)));
    state.inbox.clear();
    for (const r of recs) {
      if (r && mayDecide(r)) {
        state.inbox.set(r.id, r);
      }
    }
    renderInbox();
  } catch (e) {
    failed(e);
  }
}

// What a package is made of, as its approvers approve it: each segment (the firmware file's name,
// size and SHA-256, and the segment as stored), the cipher, the packaging key, the metadata and
// the SHA-256 of the header that is signed. Null for a task that is no package.
function packageEl(t) {
  const p = t.packaging;
  if (!p || !Array.isArray(p.segmentSizes)) {
    return null;
  }
  const fw = (t.inputs || []).filter((i) => i.role !== 'metadata');
  const body = el('tbody', {});
  p.segmentSizes.forEach((size, i) => {
    const f = fw[i] || {};
    body.append(el('tr', { className: 'segment', 'data-index': String(i) },
      el('td', {}, String(i)), el('td', {}, f.name === undefined ? '—' : f.name),
      el('td', {}, bytes(f.size), el('br'), el('span', { className: 'hint' }, 'stored: ', bytes(size))),
      el('td', {}, mono(f.sha256), el('br'), el('span', { className: 'hint' }, 'stored: '),
        mono((p.segmentSha256 || [])[i]))));
  });
  const head = el('tr', {}, ['#', 'Name', 'Size', 'sha256'].map((h) => el('th', { scope: 'col' }, h)));
  const dl = el('dl', { className: 'details package' });
  const row = (term, ...v) => dl.append(el('dt', {}, term), el('dd', {}, ...v));
  row('Format', p.format || '—');
  row('Cipher', t.encryption ? mono(t.encryption.cipher) : '—',
    t.encryption && t.encryption.key ? ` (key ${t.encryption.key})` : '');
  if (t.signing) {
    row('Packaging key', mono(t.signing.key), t.signing.algorithm ? ` (${t.signing.algorithm})` : '');
  }
  row('Metadata', metadataEl((t.inputs || []).find((i) => i.role === 'metadata')));
  row('Header', p.header ? [bytes(p.header.size), el('br'), 'sha256 ', mono(p.header.sha256)] : '—');
  return el('div', { className: 'package' },
    el('table', { className: 'inputs segments' }, el('caption', {}, `Segments (${p.segmentSizes.length})`),
      el('thead', {}, head), body),
    dl);
}

// The metadata's bytes (signetd sends them up to 1024 bytes) as text when they are UTF-8, else in hex.
function metadataEl(m) {
  if (!m) {
    return 'none';
  }
  const about = [bytes(m.size), el('br'), 'sha256 ', mono(m.sha256)];
  if (typeof m.base64 !== 'string') {
    return el('span', {}, ...about, el('br'), el('span', { className: 'hint' }, 'over 1024 bytes: not shown'));
  }
  const raw = b64bytes(m.base64);
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch (e) {
    text = [...raw].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  }
  return el('span', {}, ...about, el('pre', { className: 'metadata' }, text));
}

function renderInbox() {
  const box = $('inbox');
  clear(box);
  $('inbox-count').textContent = String(state.inbox.size);
  $('inbox-empty').hidden = state.inbox.size > 0;
  for (const t of state.inbox.values()) {
    box.append(inboxItem(t));
  }
}

function inboxItem(t) {
  const id = t.id.replace(/[^A-Za-z0-9-]/g, '');
  const needsCode = t.approval && t.approval.secondFactor === 'TOTP';
  const otp = el('input', { id: `otp-${id}`, inputMode: 'numeric', autocomplete: 'one-time-code', maxLength: 6, pattern: '[0-9]{6}', required: needsCode });
  const reason = el('input', { id: `reason-${id}`, maxLength: 1024 });
  const msg = el('p', { className: 'error', role: 'alert' });
  const inputs = el('tbody', {});
  for (const i of t.inputs || []) {
    inputs.append(el('tr', {}, el('td', {}, i.name), el('td', {}, bytes(i.size)), el('td', {}, mono(i.sha256))));
  }
  const decide = async (decision) => {
    msg.textContent = '';
    const body = { decision };
    if (reason.value) {
      body.reason = reason.value;
    }
    if (decision === 'APPROVED' && needsCode) {
      if (!/^[0-9]{6}$/.test(otp.value)) {
        msg.textContent = 'Enter the 6-digit code of your authenticator.';
        otp.focus();
        return;
      }
      body.otp = otp.value;
    }
    if (decision === 'REJECTED' && !reason.value) {
      msg.textContent = 'Say why you reject it.';
      reason.focus();
      return;
    }
    try {
      const r = await call('POST', `${taskPath(t.type, t.id)}/approval`, body);
      notify(`${decision === 'APPROVED' ? 'Approved' : 'Rejected'} “${t.name}”: it is now ${r.status}.`, 'good');
      state.inbox.delete(t.id);
      renderInbox();
      loadTasks();
    } catch (e) {
      msg.textContent = words(e);
    }
  };
  return el('article', { className: 'card inbox-item', 'data-id': t.id, 'aria-label': `Task ${t.name}` },
    el('h3', {}, t.name || t.id),
    el('dl', { className: 'details' },
      el('dt', {}, 'Type'), el('dd', {}, t.type),
      el('dt', {}, 'Requester'), el('dd', {}, t.requester || ''),
      el('dt', {}, 'Device configuration'), el('dd', {}, t.deviceConfigName || '', ' ', mono(t.deviceConfigId)),
      el('dt', {}, 'Created'), el('dd', {}, timeEl(t.createdAt)),
      el('dt', {}, 'Approvals'), el('dd', {}, `${(t.approvals || []).filter((a) => !a.void && a.decision === 'APPROVED').length} of ${t.approval ? t.approval.quorum : 1}`)),
    packageEl(t) || el('table', { className: 'inputs' }, el('caption', { className: 'sr' }, 'Inputs'),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Input'), el('th', { scope: 'col' }, 'Size'), el('th', { scope: 'col' }, 'sha256'))), inputs),
    el('div', { className: 'decide' },
      needsCode ? el('div', {}, el('label', { for: otp.id }, 'TOTP code'), otp) : null,
      el('div', {}, el('label', { for: reason.id }, 'Reason'), reason),
      el('div', { className: 'actions' },
        el('button', { type: 'button', className: 'approve', on: { click: () => decide('APPROVED') } }, 'Approve'),
        el('button', { type: 'button', className: 'danger reject', on: { click: () => decide('REJECTED') } }, 'Reject'))),
    msg);
}

// ---- new tasks ----

const MAX_SEGMENTS = 255;          // inputFiles of POST /api/v1/packagingTask
const MAX_METADATA = 65535;        // its metadata file
const segments = [];               // the package's files, in order, as chosen or dropped

function kind() {
  return document.querySelector('input[name=kind]:checked').value;
}

let dcSeq = 0;
async function loadDeviceConfigs() {
  const sel = $('new-dc');
  const seq = ++dcSeq;
  const pkg = kind() === 'packagingTask';
  try {
    const p = await call('GET', '/api/v1/deviceConfig?size=1000');
    if (seq !== dcSeq) {
      return; // the operation changed meanwhile: a newer list is on its way
    }
    const keep = sel.value;
    clear(sel);
    for (const d of p.deviceConfigs || []) {
      // A package is signed with the configuration's packaging key: only those that have one.
      if (d.enabled === false || (pkg && typeof d.packagingKey !== 'string')) {
        continue;
      }
      sel.append(el('option', { value: d.id }, `${d.name} (${d.id})`));
    }
    if (keep && [...sel.options].some((o) => o.value === keep)) {
      sel.value = keep;
    }
    $('new-dc-none').hidden = !pkg || sel.options.length > 0;
  } catch (e) {
    failed(e);
  }
}

// The form for the operation chosen: one file, or a package's files and its metadata.
function kindChanged() {
  const pkg = kind() === 'packagingTask';
  const input = $('new-file');
  input.multiple = pkg;
  input.required = !pkg;
  input.value = '';
  $('pkg-fields').hidden = !pkg;
  $('new-file-label').textContent = pkg ? 'Firmware files' : 'File';
  $('new-drop-hint').textContent = pkg ? 'or drop them here (each is added at the end)' : 'or drop it here';
  $('new-name-hint').textContent = pkg ? '(optional: the package file is NAME.pkg)' : '(optional: the file\'s name)';
  $('new-dc-hint').textContent = pkg ? '(those with a packaging key)' : '';
  loadDeviceConfigs();
}

function renderSegments() {
  const list = $('pkg-files');
  clear(list);
  segments.forEach((f, i) => {
    const up = el('button', { type: 'button', className: 'secondary', disabled: i === 0, 'aria-label': `Move ${f.name} up`,
      on: { click: () => { segments.splice(i - 1, 0, segments.splice(i, 1)[0]); renderSegments(); } } }, '↑');
    const rm = el('button', { type: 'button', className: 'secondary', 'aria-label': `Remove ${f.name}`,
      on: { click: () => { segments.splice(i, 1); renderSegments(); } } }, '×');
    list.append(el('li', { 'data-name': f.name }, el('span', { className: 'segname' }, f.name), ' — ', bytes(f.size), ' ', up, rm));
  });
  $('pkg-empty').hidden = segments.length > 0;
}

function addSegments(files) {
  for (const f of files) {
    if (segments.length >= MAX_SEGMENTS) {
      $('new-status').textContent = `A package holds at most ${MAX_SEGMENTS} files.`;
      break;
    }
    segments.push(f);
  }
  renderSegments();
}

function fileChosen() {
  if (kind() === 'packagingTask') {
    addSegments([...$('new-file').files]);
    $('new-file').value = ''; // chosen again, the same file is added again
  }
}

function dropped(ev) {
  ev.preventDefault();
  $('new-drop').classList.remove('over');
  const files = ev.dataTransfer ? [...ev.dataTransfer.files] : [];
  if (files.length === 0) {
    return;
  }
  if (kind() === 'packagingTask') {
    addSegments(files);
    return;
  }
  const one = new DataTransfer();
  one.items.add(files[0]);
  $('new-file').files = one.files;
  if (files.length > 1) {
    $('new-status').textContent = `One file only: ${files[0].name} was taken.`;
  }
}

function setupDrop() {
  const zone = $('new-drop');
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', dropped);
}

// The multipart body of the operation (doc/rest.md section 6), or a reason why there is none.
function newTaskForm(k) {
  const form = new FormData();
  form.append('deviceConfigId', $('new-dc').value);
  if ($('new-name').value) {
    form.append('name', $('new-name').value);
  }
  if (k !== 'packagingTask') {
    const file = $('new-file').files[0];
    if (!file) {
      return { why: 'Choose a file.' };
    }
    form.append('file', file, file.name);
    return { form, what: file.name };
  }
  if (segments.length === 0) {
    return { why: 'Choose the firmware files of the package.' };
  }
  for (const f of segments) {
    form.append('inputFiles', f, f.name);
  }
  const md = $('new-metadata').files[0];
  if (md) {
    if (md.size > MAX_METADATA) {
      return { why: `The metadata is larger than ${MAX_METADATA} bytes.` };
    }
    form.append('metadata', md, md.name);
  }
  const n = segments.length;
  return { form, what: n === 1 ? segments[0].name : `${n} files` };
}

async function createTask(ev) {
  ev.preventDefault();
  const k = kind();
  const status = $('new-status');
  const bar = $('new-progress');
  if (!$('new-dc').value) {
    status.textContent = 'Choose a device configuration.';
    return;
  }
  const { form, what, why } = newTaskForm(k);
  if (!form) {
    status.textContent = why;
    return;
  }
  bar.hidden = false;
  bar.value = 0;
  $('new-submit').disabled = true;
  status.textContent = `Uploading ${what}…`;
  try {
    const t = await upload(`/api/v1/${k}`, form, (done, total) => {
      bar.value = Math.round((done * 100) / total);
      status.textContent = `Uploading ${what}: ${bar.value} %`;
    });
    storedAdd('created', t.id);
    bar.value = 100;
    status.textContent = `Task ${t.id} is ${t.status}.`;
    notify(`Task “${$('new-name').value || what}” created: ${t.status}.`, 'good');
    $('new-form').reset();
    segments.length = 0;
    kindChanged();
    renderSegments();
    await refresh();
    if (t.status === 'DONE') {
      maybeAutoDownload(t.id, t.type);
    }
  } catch (e) {
    status.textContent = words(e);
  } finally {
    $('new-submit').disabled = false;
  }
}

// ---- live updates ----

function maybeAutoDownload(id, type) {
  if (!autoDownload() || !storedSet('created').has(id) || storedSet('downloaded').has(id)) {
    return;
  }
  download({ id, type });
  notify('The result is being downloaded.', 'good');
}

// Refreshes asked for within 150 ms are one; every caller's promise is kept (a later call that
// restarts the timer must not leave an earlier caller waiting forever: the upload form did).
let refreshTimer = null;
let refreshWaiting = [];
function refresh() {
  clearTimeout(refreshTimer);
  return new Promise((resolve) => {
    refreshWaiting.push(resolve);
    refreshTimer = setTimeout(async () => {
      const waiting = refreshWaiting;
      refreshWaiting = [];
      await Promise.all([loadTasks(), loadInbox()]);
      if (state.selected && state.tasks.has(state.selected) && !$('details').hidden) {
        showDetails(state.selected);
      }
      waiting.forEach((r) => r());
    }, 150);
  });
}

function onStatus(ev) {
  let e;
  try {
    e = JSON.parse(ev.data);
  } catch (x) {
    return;
  }
  const known = state.tasks.get(e.task);
  const mine = e.requester === subject();
  const awaiting = state.inbox.has(e.task);
  const name = known ? known.name : e.task;
  if (e.type === 'task.status') {
    if (known) {
      known.status = e.status;
      renderTasks();
    }
    if (mine || awaiting || (e.status === 'WAITING' && !mine)) {
      if (e.status === 'WAITING' && !mine) {
        notify(`A ${e.taskType.toLowerCase()} task by ${e.requester} waits for approval.`);
      } else {
        notify(`Task “${name}” (${e.taskType}) is now ${e.status}.`, e.status === 'DONE' ? 'good' : (FINAL.has(e.status) ? 'bad' : ''));
      }
    }
    if (mine && e.status === 'DONE') {
      maybeAutoDownload(e.task, e.taskType);
    }
  } else if (e.type === 'task.expired') {
    if (known && known.result) {
      known.result.available = false;
    }
    if (mine) {
      notify(`The result of task “${name}” has expired: the file is no longer available.`, 'bad');
    }
  } else if (e.type === 'task.approval' && mine) {
    notify(`${e.approver} ${e.decision === 'APPROVED' ? 'approved' : 'rejected'} task “${name}”.`, e.decision === 'APPROVED' ? 'good' : 'bad');
  }
  refresh();
}

function watch() {
  stopWatching();
  const es = new EventSource('/api/v1/events', { withCredentials: true });
  es.addEventListener('task.status', onStatus);
  es.addEventListener('task.approval', onStatus);
  es.addEventListener('task.expired', onStatus);
  es.addEventListener('error', async () => {
    if (es.readyState === EventSource.CLOSED) {
      // The gateway refused the stream (the session ended?) or ended it.
      const s = await currentSession().catch(() => undefined);
      if (s === null) {
        signedOut('Your session has ended: sign in again.');
      } else {
        setTimeout(() => { if (state.me) watch(); }, 5000);
      }
    }
  });
  state.events = es;
}

function stopWatching() {
  if (state.events) {
    state.events.close();
    state.events = null;
  }
}

// ---- TOTP enrollment ----

// The front draws the QR code (an SVG of rects in one path); it is parsed as SVG, never as HTML.
function svgNode(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  if (root.nodeName !== 'svg' || doc.getElementsByTagName('parsererror').length) {
    throw new Error('the QR code could not be shown');
  }
  for (const n of root.querySelectorAll('*')) {
    if (!['rect', 'path'].includes(n.nodeName)) {
      n.remove();
    }
  }
  return document.importNode(root, true);
}

async function enrollOtp() {
  const box = $('otp-result');
  const msg = $('otp-error');
  clear(box);
  msg.textContent = '';
  try {
    const r = await call('POST', '/api/ui/otp', { name: state.me.user });
    const svg = svgNode(r.qrSvg);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'QR code of the otpauth URI');
    svg.id = 'otp-qr';
    box.append(svg,
      el('p', {}, 'Scan it with your authenticator app, or type the secret: ', el('span', { id: 'otp-secret', className: 'mono' }, r.secret)),
      el('p', { className: 'hint' }, `${r.algorithm}, ${r.digits} digits, every ${r.period} s. It is shown this once: the appliance cannot show it again.`));
    box.hidden = false;
  } catch (e) {
    msg.textContent = words(e);
  }
}

// ---- session ----

function failed(e) {
  if (e instanceof ApiError && e.status === 401) {
    signedOut('Your session has ended: sign in again.');
    return;
  }
  notify(words(e), 'bad');
}

function signedOut(why) {
  stopWatching();
  stopCountdown();
  clear($('otp-result'));
  state.me = null;
  state.tasks.clear();
  state.inbox.clear();
  $('who').textContent = '';
  show('signin');
  $('signin-error').textContent = why || '';
  $('signin-token').focus();
}

async function signedIn(s) {
  state.me = s;
  $('who').textContent = `${s.user} @ ${s.tenant}`;
  $('who').title = `Sessions end after ${Math.round(s.idleTimeout / 60)} min without use`;
  $('set-autodl').checked = autoDownload();
  show('app');
  selectTab('tasks');
  watch();
  await refresh();
}

async function onSignIn(ev) {
  ev.preventDefault();
  const tokenInput = $('signin-token');
  const token = tokenInput.value.trim();
  const tenant = $('signin-tenant').value.trim();
  // The token leaves the page's hands here: the gateway keeps it, the page only its cookie.
  tokenInput.value = '';
  $('signin-error').textContent = '';
  try {
    await signedIn(await signIn(token, tenant));
  } catch (e) {
    $('signin-error').textContent = words(e);
  }
}

async function onSignOut() {
  stopWatching();
  try {
    await signOut();
  } catch (e) {
    // The session may have ended already.
  }
  signedOut('Signed out.');
}

function keyboardTabs(ev) {
  const order = TABS;
  const cur = order.findIndex((t) => $(`tab-${t}`) === document.activeElement);
  if (cur < 0 || (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft')) {
    return;
  }
  const next = order[(cur + (ev.key === 'ArrowRight' ? 1 : order.length - 1)) % order.length];
  selectTab(next);
  $(`tab-${next}`).focus();
}

async function main() {
  $('signin-form').addEventListener('submit', onSignIn);
  $('signout').addEventListener('click', onSignOut);
  setupOfficer(failed);
  $('otp-enroll').addEventListener('click', enrollOtp);
  for (const t of TABS) {
    $(`tab-${t}`).addEventListener('click', () => selectTab(t));
  }
  document.querySelector('.tabs').addEventListener('keydown', keyboardTabs);
  $('filter-type').addEventListener('change', loadTasks);
  $('filter-status').addEventListener('change', loadTasks);
  $('refresh').addEventListener('click', refresh);
  $('new-form').addEventListener('submit', createTask);
  for (const r of document.querySelectorAll('input[name=kind]')) {
    r.addEventListener('change', () => {
      $('new-status').textContent = ''; // the last upload's outcome belongs to the last form
      $('new-progress').hidden = true;
      kindChanged();
    });
  }
  $('new-file').addEventListener('change', fileChosen);
  setupDrop();
  $('set-autodl').addEventListener('change', (ev) => {
    localStorage.setItem('signet.autoDownload', ev.target.checked ? 'on' : 'off');
  });
  setInterval(() => { if (state.me) renderTasks(); }, 60000); // relative times age
  try {
    const s = await currentSession();
    if (s) {
      await signedIn(s);
    } else {
      signedOut('');
    }
  } catch (e) {
    signedOut(words(e));
  }
}

main();
