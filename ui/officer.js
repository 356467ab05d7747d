// SPDX-License-Identifier: Apache-2.0
// The officer's read-only views: device configurations, keys (public key download), the audit log
// with paging and a verification of the chain. What the ACL refuses is said, not hidden.
import { ApiError, call } from './api.js';
import { el, clear, $, timeEl } from './dom.js';

const AUDIT_PAGE = 25;

let report = (e) => { throw e; };

function mono(s) {
  return el('span', { className: 'mono' }, s === null || s === undefined || s === '' ? '—' : String(s));
}

function list(items) {
  if (!items || items.length === 0) {
    return '—';
  }
  return el('ul', { className: 'plain' }, items.map((i) => el('li', {}, i)));
}

function refused(box, e) {
  clear(box);
  if (e instanceof ApiError && e.status === 403) {
    box.append(el('p', { className: 'hint denied' }, 'Your rights (the ACL) do not let you see this.'));
    return;
  }
  report(e);
}

function saveText(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/x-pem-file' }));
  const a = el('a', { href: url, download: name });
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// ---- device configurations ----

function encKey(k) {
  if (k && typeof k === 'object') {
    return k.label || k.key || k.fingerprint || JSON.stringify(k);
  }
  return String(k);
}

function dcDetails(d) {
  const box = $('dc-details');
  clear(box);
  box.hidden = false;
  const a = d.approval || {};
  const dl = el('dl', { className: 'details' });
  const row = (term, ...v) => dl.append(el('dt', {}, term), el('dd', {}, ...v));
  row('Id', mono(d.id));
  row('Enabled', d.enabled === false ? 'no' : 'yes');
  if (d.description) {
    row('Description', d.description);
  }
  row('Signing keys', list(d.signingKeys));
  row('Packaging key', mono(d.packagingKey));
  row('Encryption keys', list((d.encryptionKeys || []).map(encKey)));
  row('Cipher', mono(d.cipher));
  row('Packaging', mono(d.packaging));
  row('Four eyes', a.fourEyes ? `yes, quorum ${a.quorum || 1}` : 'no');
  row('Second factor', mono(a.secondFactor));
  const subj = d.subjects || {};
  const roles = { USE: 'Users', APPROVE: 'Approvers' };
  for (const role of Object.keys(subj).sort()) {
    row(roles[role] || role, list(subj[role]));
  }
  for (const role of ['users', 'approvers']) {
    if (Array.isArray(d[role]) && !subj[role]) {
      row(role.charAt(0).toUpperCase() + role.slice(1), list(d[role]));
    }
  }
  row('Created', timeEl(d.createdAt), d.createdBy ? ` by ${d.createdBy}` : '');
  if (d.updatedAt) {
    row('Updated', timeEl(d.updatedAt), d.updatedBy ? ` by ${d.updatedBy}` : '');
  }
  box.append(el('h3', {}, d.name || d.id), dl,
    el('p', { className: 'hint' }, 'Read-only: device configurations are changed with signetctl or the REST API.'));
}

export async function loadDeviceConfigList() {
  const box = $('dc-list');
  try {
    const p = await call('GET', '/api/v1/deviceConfig?size=1000');
    clear(box);
    const body = el('tbody', {});
    for (const d of p.deviceConfigs || []) {
      const open = async () => {
        try {
          dcDetails(await call('GET', `/api/v1/deviceConfig/${encodeURIComponent(d.id)}`));
        } catch (e) {
          refused($('dc-details'), e);
        }
      };
      body.append(el('tr', { 'data-id': d.id },
        el('td', {}, el('button', { type: 'button', className: 'linkish', on: { click: open } }, d.name || d.id)),
        el('td', {}, mono(d.id)), el('td', {}, d.enabled === false ? 'disabled' : 'enabled')));
    }
    box.append(el('table', { className: 'tasks' },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Name'), el('th', { scope: 'col' }, 'Id'), el('th', { scope: 'col' }, 'State'))), body));
  } catch (e) {
    refused(box, e);
  }
}

// ---- keys ----

async function downloadPublicKey(label) {
  try {
    const k = await call('GET', `/api/v1/keys/${encodeURIComponent(label)}`);
    if (!k.publicKeyPem) {
      throw new Error(`key ${label} has no public key`);
    }
    saveText(k.publicKeyPem, `${label.replace(/[^A-Za-z0-9._-]/g, '_')}.pub.pem`);
  } catch (e) {
    report(e);
  }
}

export async function loadKeys() {
  const box = $('key-list');
  try {
    const p = await call('GET', '/api/v1/keys?size=1000');
    clear(box);
    const body = el('tbody', {});
    for (const k of p.keys || []) {
      const pair = k.algorithm && !k.algorithm.startsWith('AES');
      body.append(el('tr', { 'data-label': k.label },
        el('td', {}, k.label), el('td', {}, k.algorithm || ''), el('td', {}, k.origin || ''),
        el('td', {}, k.usable === false ? `unusable${k.problem ? `: ${k.problem}` : ''}` : 'usable'),
        el('td', {}, timeEl(k.created)),
        el('td', {}, pair ? el('button', { type: 'button', className: 'secondary pubkey', on: { click: () => downloadPublicKey(k.label) } }, 'Public key') : '—')));
    }
    box.append(el('table', { className: 'tasks' },
      el('thead', {}, el('tr', {}, ...['Label', 'Algorithm', 'Origin', 'State', 'Created', 'Download'].map((h) => el('th', { scope: 'col' }, h)))), body));
  } catch (e) {
    refused(box, e);
  }
}

// ---- the audit log ----

const audit = { cursors: [null], page: 0 };

async function showAuditPage() {
  const box = $('audit-rows');
  const cursor = audit.cursors[audit.page];
  const q = new URLSearchParams({ size: String(AUDIT_PAGE) });
  if (cursor) {
    q.set('cursor', cursor);
  }
  try {
    const p = await call('GET', `/api/v1/auditlog?${q}`);
    clear(box);
    for (const a of p.entries || []) {
      box.append(el('tr', { 'data-seq': String(a.seq) },
        el('td', {}, String(a.seq)), el('td', {}, timeEl(a.time)), el('td', {}, a.actor || ''),
        el('td', {}, a.verb || ''), el('td', {}, mono(a.resource)), el('td', {}, a.message || '')));
    }
    audit.cursors[audit.page + 1] = p.cursor || null;
    $('audit-page').textContent = `Page ${audit.page + 1}`;
    $('audit-prev').disabled = audit.page === 0;
    $('audit-next').disabled = !p.cursor;
    $('audit-table').hidden = false;
  } catch (e) {
    $('audit-table').hidden = true;
    refused($('audit-denied'), e);
  }
}

async function verifyAudit() {
  const out = $('audit-verify-result');
  out.className = '';
  out.textContent = 'Verifying…';
  $('audit-verify').disabled = true;
  try {
    const v = await call('POST', '/api/v1/auditlog/verify');
    if (v.verified) {
      out.className = 'verified';
      out.textContent = `Verified: chain ${v.chain}, ${v.entries} entries, ${v.checkpoints} checkpoints.`;
    } else {
      out.className = 'error';
      out.textContent = `Not verified (code ${v.code}): ${v.message}${v.firstBadSeq ? `; first bad entry ${v.firstBadSeq}` : ''}.`;
    }
  } catch (e) {
    out.className = 'error';
    out.textContent = e instanceof ApiError && e.status === 403
      ? 'Your rights (the ACL) do not let you verify the audit log.' : `The verification failed: ${e.message}`;
  } finally {
    $('audit-verify').disabled = false;
  }
}

export function loadAudit() {
  audit.cursors = [null];
  audit.page = 0;
  clear($('audit-denied'));
  return showAuditPage();
}

export function setupOfficer(onError) {
  report = onError;
  $('audit-prev').addEventListener('click', () => { if (audit.page > 0) { audit.page--; showAuditPage(); } });
  $('audit-next').addEventListener('click', () => { if (audit.cursors[audit.page + 1]) { audit.page++; showAuditPage(); } });
  $('audit-verify').addEventListener('click', verifyAudit);
}
