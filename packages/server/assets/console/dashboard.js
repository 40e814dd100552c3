/* global document, window, uPlot */
// The dashboard's live charts (uPlot, served by the server itself). Progressive enhancement: the
// page already shows the totals as text; this draws the charts and refreshes both every 5 seconds.
(function () {
  'use strict';
  var source = document.getElementById('dashboard-data');
  if (!source || typeof uPlot === 'undefined') return;
  var url = source.getAttribute('data-src');
  // Success green, refusals warm, the rest from a palette that stays apart from both.
  var colours = { ok: '#1a7f37', invalid_grant: '#a40e26', too_many_requests: '#bc4c00', refusals: '#bc4c00', lockouts: '#8250df', 'reuse detections': '#a40e26' };
  var palette = ['#0b5cad', '#57606a', '#8250df', '#116329', '#cf222e'];
  var charts = {};

  function width(element) {
    return Math.max(280, element.clientWidth - 8);
  }

  function draw(id, times, series, unit) {
    var element = document.getElementById(id);
    var labels = Object.keys(series);
    var data = [times.map(function (t) { return t / 1000; })].concat(labels.map(function (label) { return series[label]; }));
    var key = labels.join('|');
    var chart = charts[id];
    if (chart && chart.key === key) {
      chart.plot.setData(data);
      return;
    }
    if (chart) chart.plot.destroy();
    var options = {
      width: width(element),
      height: 220,
      series: [{}].concat(labels.map(function (label, index) {
        return { label: label, stroke: colours[label] || palette[index % palette.length], width: 2, value: function (_u, v) { return v == null ? '-' : v + unit; } };
      })),
      axes: [{}, { size: 50 }],
      scales: { y: { range: function (_u, min, max) { return [0, Math.max(1, max)]; } } },
    };
    charts[id] = { key: key, plot: new uPlot(options, data, element) };
  }

  function totals(id, entries) {
    var list = document.getElementById(id);
    list.textContent = '';
    entries.forEach(function (entry) {
      var item = document.createElement('li');
      var value = document.createElement('strong');
      value.textContent = String(entry[1]);
      item.append(entry[0] + ': ', value, entry[2] || '');
      list.append(item);
    });
  }

  function refresh() {
    fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (response) {
        // Signed out (idle, expired, or from elsewhere): show the sign-in page that says so.
        if (response.redirected) window.location.assign(response.url);
        if (response.redirected || !response.ok) throw new Error('no data');
        return response.json();
      })
      .then(function (data) {
        draw('grants-chart', data.grants.times, data.grants.rates, '/s');
        draw('events-chart', data.events.times, data.events.counts, '');
        totals('grant-totals', Object.keys(data.grants.rates).map(function (outcome) {
          var rates = data.grants.rates[outcome];
          return [outcome, rates.length ? rates[rates.length - 1] : 0, '/s'];
        }));
        totals('event-totals', Object.keys(data.totals).map(function (label) { return [label, data.totals[label]]; }));
      })
      .catch(function () { /* the next tick tries again */ });
  }

  refresh();
  setInterval(refresh, 5000);
  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (id) {
      charts[id].plot.setSize({ width: width(document.getElementById(id)), height: 220 });
    });
  });
})();
