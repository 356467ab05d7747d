// SPDX-License-Identifier: Apache-2.0
// Calls to the gateway with the session cookie: every state-changing request carries the CSRF token.
// The API token itself is sent once, to /api/ui/session, and never kept by the page.

let csrf = null;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function answer(r) {
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    body = null;
  }
  if (!r.ok) {
    throw new ApiError(r.status, body && body.code ? body.code : 'error',
      body && body.message ? body.message : `HTTP ${r.status}`);
  }
  return body;
}

export async function call(method, path, json) {
  const headers = {};
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET' && csrf) {
    headers['X-CSRF-Token'] = csrf;
  }
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  return answer(await fetch(path, init));
}

// The session of the cookie, if any (after a reload): null when signed out.
export async function currentSession() {
  try {
    const s = await call('GET', '/api/ui/session');
    csrf = s.csrfToken;
    return s;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 404)) {
      return null;
    }
    throw e;
  }
}

export async function signIn(token, tenant) {
  const body = { token };
  if (tenant) {
    body.tenant = tenant;
  }
  const s = await call('POST', '/api/ui/session', body);
  csrf = s.csrfToken;
  return s;
}

export async function signOut() {
  try {
    await call('DELETE', '/api/ui/session');
  } finally {
    csrf = null;
  }
}

// A multipart upload with progress: XMLHttpRequest reports the bytes sent as they go.
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', path);
    x.withCredentials = true;
    x.responseType = 'json';
    if (csrf) {
      x.setRequestHeader('X-CSRF-Token', csrf);
    }
    x.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable) {
        onProgress(ev.loaded, ev.total);
      }
    });
    x.addEventListener('load', () => {
      const b = x.response;
      if (x.status >= 200 && x.status < 300) {
        resolve(b);
      } else {
        reject(new ApiError(x.status, b && b.code ? b.code : 'error',
          b && b.message ? b.message : `HTTP ${x.status}`));
      }
    });
    x.addEventListener('error', () => reject(new ApiError(0, 'network', 'the upload failed: no answer from the gateway')));
    x.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'the upload was cancelled')));
    x.send(form);
  });
}

export const TYPES = { SIGNING: 'signingTask', ENCRYPTION: 'encryptionTask', PACKAGING: 'packagingTask' };

export function taskPath(type, id) {
  return `/api/v1/${TYPES[type]}/${encodeURIComponent(id)}`;
}
