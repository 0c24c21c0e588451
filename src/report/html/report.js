// labelscan report: the findings table. Every value comes from scanned
// documents, so it is only ever set as text (textContent, never innerHTML).
// The table draws only the rows in view, so 100,000 documents stay usable.
(function () {
  'use strict';
  var ROW_HEIGHT = 28;
  var OVERSCAN = 10;
  var PRINT_MAX = 5000;
  var meta = JSON.parse(document.getElementById('report-meta').textContent);
  var rows = JSON.parse(document.getElementById('findings-data').textContent);
  var COL = {};
  meta.columns.forEach(function (name, i) { COL[name] = i; });
  var levelRank = {};
  meta.levels.forEach(function (l, i) { levelRank[l] = i; });

  var body = document.getElementById('grid-body');
  var space = document.getElementById('grid-space');
  var rowBox = document.getElementById('grid-rows');
  var detail = document.getElementById('detail');
  var shownCount = document.getElementById('shown-count');
  var search = document.getElementById('filter-text');
  var selects = Array.prototype.slice.call(document.querySelectorAll('.filters select'));

  var shown = [];      // indices into rows, filtered and sorted
  var sortCol = null;
  var sortDir = 1;
  var picked = -1;
  var haystack = rows.map(searchText);

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function list(value) { return Array.isArray(value) ? value : (value ? [value] : []); }

  function searchText(row) {
    var d = row[COL.detail] || {};
    var reasons = (d.reasons || []).map(function (r) { return r.code + ' ' + r.reason; });
    return [row[COL.path], row[COL.format], row[COL.level], row[COL.suggested]]
      .concat(row[COL.verdicts], row[COL.partners], row[COL.detectors], reasons)
      .join(' ').toLowerCase();
  }

  function fillOptions(select) {
    var col = COL[select.getAttribute('data-col')];
    var seen = {};
    rows.forEach(function (row) {
      list(row[col]).forEach(function (v) { seen[v] = true; });
    });
    var values = Object.keys(seen);
    if (select.id === 'filter-verdict') {
      values = meta.verdicts.filter(function (v) { return seen[v]; });
    } else if (select.id === 'filter-level' || select.id === 'filter-suggested') {
      values.sort(byLevel);
    } else {
      values.sort();
    }
    values.forEach(function (v) {
      var option = el('option', v);
      option.value = v;
      select.appendChild(option);
    });
  }

  function byLevel(a, b) {
    var ra = a in levelRank ? levelRank[a] : -1;
    var rb = b in levelRank ? levelRank[b] : -1;
    return ra - rb || (a < b ? -1 : a > b ? 1 : 0);
  }

  function sortKey(row, col) {
    var value = row[COL[col]];
    if (col === 'level' || col === 'suggested') return value in levelRank ? levelRank[value] : -1;
    return list(value).join(' ');
  }

  function applyFilters() {
    var wanted = selects
      .filter(function (s) { return s.value !== ''; })
      .map(function (s) { return { col: COL[s.getAttribute('data-col')], value: s.value }; });
    var terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    shown = [];
    for (var i = 0; i < rows.length; i++) {
      if (matches(rows[i], wanted) && terms.every(function (t) { return haystack[i].indexOf(t) >= 0; })) {
        shown.push(i);
      }
    }
    sortShown();
    shownCount.textContent = String(shown.length);
    space.style.height = (shown.length * ROW_HEIGHT) + 'px';
    body.scrollTop = 0;
    draw();
  }

  function matches(row, wanted) {
    for (var k = 0; k < wanted.length; k++) {
      var value = row[wanted[k].col];
      if (Array.isArray(value) ? value.indexOf(wanted[k].value) < 0 : value !== wanted[k].value) return false;
    }
    return true;
  }

  function sortShown() {
    if (!sortCol) return;
    var keys = {};
    shown.forEach(function (i) { keys[i] = sortKey(rows[i], sortCol); });
    shown.sort(function (a, b) {
      var ka = keys[a], kb = keys[b];
      return (ka < kb ? -1 : ka > kb ? 1 : a - b) * sortDir;
    });
  }

  function draw() {
    var first = Math.max(0, Math.floor(body.scrollTop / ROW_HEIGHT) - OVERSCAN);
    var count = Math.ceil(body.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN;
    var last = Math.min(shown.length, first + count);
    rowBox.style.transform = 'translateY(' + (first * ROW_HEIGHT) + 'px)';
    var fragment = document.createDocumentFragment();
    for (var k = first; k < last; k++) fragment.appendChild(rowElement(shown[k]));
    rowBox.replaceChildren(fragment);
  }

  function rowElement(index) {
    var row = rows[index];
    var line = el('div', null, 'grid-row' + (index === picked ? ' picked' : ''));
    line.setAttribute('role', 'row');
    line.tabIndex = 0;
    line.dataset.index = String(index);
    line.appendChild(cell(row[COL.path]));
    line.appendChild(cell(row[COL.format]));
    line.appendChild(cell(row[COL.level]));
    line.appendChild(cell(row[COL.suggested]));
    var verdicts = cell('');
    verdicts.className = 'verdicts';
    row[COL.verdicts].forEach(function (v) {
      var badge = el('span', v, 'v');
      badge.style.background = meta.colours[v] || '#555';
      verdicts.appendChild(badge);
    });
    verdicts.title = row[COL.verdicts].join(' ');
    line.appendChild(verdicts);
    line.appendChild(cell(row[COL.partners].join(', ')));
    return line;
  }

  function cell(text) {
    var node = el('div', text);
    node.setAttribute('role', 'cell');
    node.title = String(text);
    return node;
  }

  function table(items, keys) {
    var t = el('table', null, 'counts');
    var head = el('tr');
    keys.forEach(function (k) { head.appendChild(el('th', k.replace(/_/g, ' '))); });
    t.appendChild(el('thead')).appendChild(head);
    var tbody = t.appendChild(el('tbody'));
    items.forEach(function (item) {
      var tr = tbody.appendChild(el('tr'));
      keys.forEach(function (k) { tr.appendChild(el('td', show(item[k]))); });
    });
    return t;
  }

  function show(value) {
    if (value === null || value === undefined) return '';
    if (Array.isArray(value)) return value.map(show).join('; ');
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  function openDetail(index) {
    picked = index;
    var row = rows[index];
    var d = row[COL.detail] || {};
    detail.replaceChildren();
    var close = el('button', 'Close', 'close');
    close.type = 'button';
    close.addEventListener('click', function () { detail.hidden = true; picked = -1; draw(); });
    detail.appendChild(close);
    detail.appendChild(el('h3', row[COL.path]));
    detail.appendChild(table([{
      format: row[COL.format], level: row[COL.level], suggested: row[COL.suggested],
      folder: row[COL.folder], size: d.size, modified: d.modified, owner: d.owner,
      text_chars: d.text_chars, sha256: d.sha256
    }], ['format', 'level', 'suggested', 'folder', 'size', 'modified', 'owner', 'text_chars', 'sha256']));
    section('Verdicts and reasons', d.reasons, ['code', 'reason']);
    if (row[COL.excepted].length) detail.appendChild(el('p', 'Accepted by policy exception: ' + row[COL.excepted].join(', ')));
    if (d.error) detail.appendChild(el('p', 'Could not be read: ' + d.error + (d.error_detail ? ' (' + d.error_detail + ')' : '')));
    section('Label sources', d.label_sources, ['kind', 'value', 'level', 'location']);
    section('Detections', d.detections, ['detector', 'category', 'count', 'min_count', 'fired', 'level', 'confidence', 'samples', 'locations']);
    section('Releases named', d.release_checks, ['named', 'partner', 'status', 'agreement', 'max_level', 'valid_from', 'valid_until']);
    if (d.exchange_location) section('Exchange location', [d.exchange_location], Object.keys(d.exchange_location));
    if (d.tlp_markings) section('TLP markings', d.tlp_markings, Object.keys(d.tlp_markings[0] || {}));
    detail.hidden = false;
    draw();
    detail.scrollIntoView({ block: 'nearest' });
  }

  function section(title, items, keys) {
    if (!items || !items.length) return;
    detail.appendChild(el('h4', title));
    detail.appendChild(table(items, keys));
  }

  function sortBy(head) {
    var col = head.getAttribute('data-sort');
    sortDir = sortCol === col ? -sortDir : 1;
    sortCol = col;
    document.querySelectorAll('.grid-head [data-sort]').forEach(function (h) { h.removeAttribute('aria-sort'); });
    head.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
    applyFilters();
  }

  // Printing: the rows in view are not the findings, so print the
  // filtered rows (up to PRINT_MAX) as a plain table instead.
  function printTable() {
    var t = el('table');
    t.id = 'print-findings';
    var head = el('tr');
    ['Path', 'Level', 'Suggested', 'Verdicts', 'Released to'].forEach(function (h) { head.appendChild(el('th', h)); });
    t.appendChild(el('thead')).appendChild(head);
    var tbody = t.appendChild(el('tbody'));
    shown.slice(0, PRINT_MAX).forEach(function (i) {
      var r = rows[i];
      var tr = tbody.appendChild(el('tr'));
      [r[COL.path], r[COL.level], r[COL.suggested], r[COL.verdicts].join(' '), r[COL.partners].join(', ')]
        .forEach(function (v) { tr.appendChild(el('td', v)); });
    });
    var note = el('p', shown.length > PRINT_MAX ? 'The first ' + PRINT_MAX + ' of ' + shown.length + ' documents shown are printed.' : '', 'note');
    note.id = 'print-note';
    document.getElementById('grid').after(t, note);
  }

  selects.forEach(function (s) { fillOptions(s); s.addEventListener('change', applyFilters); });
  var typing = 0;
  search.addEventListener('input', function () { clearTimeout(typing); typing = setTimeout(applyFilters, 150); });
  document.getElementById('filter-reset').addEventListener('click', function () {
    selects.forEach(function (s) { s.value = ''; });
    search.value = '';
    applyFilters();
  });
  document.querySelectorAll('.grid-head [data-sort]').forEach(function (h) {
    h.addEventListener('click', function () { sortBy(h); });
  });
  var pending = false;
  body.addEventListener('scroll', function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  });
  rowBox.addEventListener('click', function (e) {
    var line = e.target.closest('.grid-row');
    if (line) openDetail(Number(line.dataset.index));
  });
  rowBox.addEventListener('keydown', function (e) {
    var line = e.target.closest('.grid-row');
    if (line && e.key === 'Enter') openDetail(Number(line.dataset.index));
  });
  window.addEventListener('resize', draw);
  window.addEventListener('beforeprint', printTable);
  window.addEventListener('afterprint', function () {
    ['print-findings', 'print-note'].forEach(function (id) { var n = document.getElementById(id); if (n) n.remove(); });
  });

  // For tests and for readers who script the page.
  window.labelscanReport = {
    rows: rows,
    shown: function () { return shown.map(function (i) { return rows[i]; }); },
    applyFilters: applyFilters
  };
  applyFilters();
})();
