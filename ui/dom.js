// SPDX-License-Identifier: Apache-2.0
// DOM helpers: every value from the API becomes text (textContent, text nodes), never markup.

// el('td', {className: 'x'}, 'text', otherNode): attributes by property or aria-/data- name.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) {
      continue;
    }
    if (k.startsWith('aria-') || k.startsWith('data-') || k === 'for' || k === 'role') {
      e.setAttribute(k, String(v));
    } else if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) {
        e.addEventListener(ev, fn);
      }
    } else {
      e[k] = v;
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) {
      continue;
    }
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(node) {
  while (node.firstChild) {
    node.removeChild(node.firstChild);
  }
}

export function $(id) {
  return document.getElementById(id);
}

// "in 23 h", "5 min ago", with the ISO 8601 time on hover.
export function timeEl(seconds) {
  if (typeof seconds !== 'number') {
    return el('span', {}, '—');
  }
  const d = new Date(seconds * 1000);
  return el('time', { dateTime: d.toISOString(), title: d.toISOString() }, relative(seconds));
}

export function relative(seconds) {
  const diff = seconds - Date.now() / 1000;
  const a = Math.abs(diff);
  let n;
  let unit;
  if (a < 45) {
    return diff >= 0 ? 'in a moment' : 'just now';
  } else if (a < 3600) {
    n = Math.round(a / 60); unit = 'min';
  } else if (a < 86400 * 2) {
    n = Math.round(a / 3600); unit = 'h';
  } else {
    n = Math.round(a / 86400); unit = n === 1 ? 'day' : 'days';
  }
  return diff >= 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

export function bytes(n) {
  if (typeof n !== 'number') {
    return '—';
  }
  if (n < 1024) {
    return `${n} B`;
  }
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024; i++;
  }
  return `${v.toFixed(1)} ${u[i]} (${n} bytes)`;
}
