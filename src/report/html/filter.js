// Filters and text search of the findings listed in the page. Rows carry
// their facets as data attributes (c cluster, n namespace, o owner,
// s severity, k kind); a row shows when it has every chosen value and
// contains the search text (in its own cells or its group's fields and
// values). Groups, owners and sections with no row left are hidden; the
// Kustomization tables follow the cluster filter.
(function () {
  'use strict';
  var form = document.getElementById('filters');
  if (!form) {
    return;
  }
  var all = function (selector) {
    return Array.prototype.slice.call(document.querySelectorAll(selector));
  };
  var rows = all('tr.finding');
  var groups = all('article.group');
  var owners = all('section.owner');
  var sections = all('details.severity');
  var kustomizations = all('tr.kustomization');
  var mores = all('.more');
  var selects = Array.prototype.slice.call(form.querySelectorAll('select'));
  var search = document.getElementById('f-text');
  var shown = document.getElementById('shown');
  var facets = { cluster: 'c', namespace: 'n', owner: 'o', severity: 's', kind: 'k' };
  var texts = null;

  // Lower-cased text of each row and its group's head, made on the first search.
  function rowTexts() {
    if (texts === null) {
      var heads = new Map();
      texts = rows.map(function (row) {
        var group = row.closest('article.group');
        var head = heads.get(group);
        if (head === undefined) {
          var h = group ? group.querySelector('.head') : null;
          head = h ? h.textContent : '';
          heads.set(group, head);
        }
        return (head + '\n' + row.textContent).toLowerCase();
      });
    }
    return texts;
  }

  function hideEmpty(list, child) {
    list.forEach(function (el) {
      el.hidden = el.querySelector(child) === null;
    });
  }

  function apply() {
    var wanted = [];
    selects.forEach(function (select) {
      if (select.value !== '') {
        wanted.push(['data-' + facets[select.name], select.value]);
      }
    });
    var query = search.value.trim().toLowerCase();
    var text = query === '' ? null : rowTexts();
    var count = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var match = true;
      for (var j = 0; match && j < wanted.length; j++) {
        match = row.getAttribute(wanted[j][0]) === wanted[j][1];
      }
      if (match && text !== null) {
        match = text[i].indexOf(query) !== -1;
      }
      row.hidden = !match;
      if (match) {
        count++;
      }
    }
    var filtered = wanted.length > 0 || text !== null;
    hideEmpty(groups, 'tr.finding:not([hidden])');
    hideEmpty(owners, 'article.group:not([hidden])');
    hideEmpty(sections, 'section.owner:not([hidden])');
    mores.forEach(function (more) {
      more.hidden = filtered;
    });
    var cluster = form.elements.cluster.value;
    kustomizations.forEach(function (row) {
      row.hidden = cluster !== '' && row.getAttribute('data-c') !== cluster;
    });
    if (form.elements.severity.value !== '') {
      sections.forEach(function (section) {
        if (!section.hidden) {
          section.open = true;
        }
      });
    }
    shown.textContent = filtered
      ? count + ' of ' + rows.length + ' listed findings shown'
      : rows.length + ' findings listed';
  }

  form.addEventListener('input', apply);
  form.addEventListener('change', apply);
  form.addEventListener('submit', function (event) {
    event.preventDefault();
  });
  form.hidden = false;
})();
