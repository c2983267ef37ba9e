// The pcache page of the Web Console: polls caches.json every few seconds, fills the table and
// draws read and write throughput and dirty data of all caches over the last 5 minutes on a
// canvas. Self-contained: no library, nothing loaded from anywhere but this pcache.
(function () {
    'use strict';
    var box = document.getElementById('pcache');
    if (!box) {
        return;
    }
    // the origin without the user and password a URL may carry (fetch refuses URLs with them)
    var root = window.location.origin + box.getAttribute('data-root');
    var pollMs = 1000 * Number(box.getAttribute('data-poll-seconds') || 2);
    var keepMs = 5 * 60 * 1000;
    var last = null; // the previous poll: {time, caches: {name: {read, written}}}
    var history = []; // {time, readRate, writeRate, dirty}: bytes per second, bytes

    function human(bytes) {
        var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
        var v = Number(bytes), i = 0;
        while (Math.abs(v) >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i];
    }

    function cell(row, text) {
        var td = document.createElement('td');
        td.textContent = text;
        row.appendChild(td);
    }

    function fillTable(caches) {
        var body = document.querySelector('#pcache-caches tbody');
        while (body.firstChild) {
            body.removeChild(body.firstChild);
        }
        if (caches.length === 0) {
            var none = document.createElement('tr');
            cell(none, 'no cache is open (create one in Configuration: pcache cache, or with pcache:create)');
            none.firstChild.colSpan = 9;
            body.appendChild(none);
            return;
        }
        caches.forEach(function (c) {
            var tr = document.createElement('tr');
            tr.setAttribute('data-cache', c.name);
            cell(tr, c.name);
            cell(tr, c.mode);
            cell(tr, c.state);
            cell(tr, c.backing);
            cell(tr, c.backingState);
            cell(tr, human(c.dirtyBytes) + ' (' + c.dirtyPercent.toFixed(1) + ' %)');
            cell(tr, c.segmentsUsed + ' of ' + c.segmentsTotal);
            cell(tr, c.hitRatio);
            cell(tr, human(c.writebackBytes) + ' in ' + c.writebackKsets + ' ksets, ' + c.writebackErrors + ' errors');
            body.appendChild(tr);
        });
    }

    // a panel's list, one item per entry (each filled in by fill(li, entry)); the panel shows only when it has some
    function fillPanel(id, entries, fill) {
        var panel = document.getElementById(id);
        var list = panel.querySelector('ul');
        while (list.firstChild) {
            list.removeChild(list.firstChild);
        }
        (entries || []).forEach(function (entry) {
            var li = document.createElement('li');
            fill(li, entry);
            list.appendChild(li);
        });
        panel.style.display = list.firstChild ? '' : 'none';
    }

    // the configured caches that are not open, with why
    function fillNotOpen(notOpen) {
        fillPanel('pcache-not-open', notOpen, function (li, n) {
            li.className = n.state === 'failed' ? 'ui-state-error' : 'ui-state-highlight';
            li.setAttribute('data-cache', n.name);
            li.textContent = n.name + ' (' + n.state + '): ' + n.reason;
        });
    }

    // the configuration changes pcache refused (the configuration manager's form does not say why)
    function fillRefused(refused) {
        fillPanel('pcache-refused', refused, function (li, r) {
            li.className = 'ui-state-error';
            li.textContent = new Date(r.time).toLocaleTimeString() + ': ' + r.message;
        });
    }

    // rates from each cache's own counters: a cache that went away (or came) between two polls
    // changes no other cache's rate, where a delta of the totals would fall below zero
    function record(data) {
        var now = {time: data.time, caches: {}};
        var readRate = 0, writeRate = 0, dirty = 0;
        data.caches.forEach(function (c) {
            now.caches[c.name] = {read: c.bytesRead, written: c.bytesWritten};
            dirty += c.dirtyBytes;
        });
        if (last && now.time > last.time) {
            var s = (now.time - last.time) / 1000;
            Object.keys(now.caches).forEach(function (name) {
                var before = last.caches[name];
                if (before) {
                    readRate += Math.max(0, now.caches[name].read - before.read) / s;
                    writeRate += Math.max(0, now.caches[name].written - before.written) / s;
                }
            });
            history.push({time: now.time, readRate: readRate, writeRate: writeRate, dirty: dirty});
        }
        last = now;
        while (history.length && history[0].time < now.time - keepMs) {
            history.shift();
        }
    }

    function line(ctx, points, color, x, y) {
        ctx.strokeStyle = color;
        ctx.lineWidth = 2;
        ctx.beginPath();
        points.forEach(function (p, i) {
            if (i === 0) {
                ctx.moveTo(x(p), y(p));
            } else {
                ctx.lineTo(x(p), y(p));
            }
        });
        ctx.stroke();
        ctx.fillStyle = color;
        points.forEach(function (p) {
            ctx.fillRect(x(p) - 1.5, y(p) - 1.5, 3, 3);
        });
    }

    function draw() {
        var canvas = document.getElementById('pcache-chart');
        var ctx = canvas.getContext('2d');
        var w = canvas.width, h = canvas.height, left = 70, right = 80, top = 10, bottom = 20;
        ctx.clearRect(0, 0, w, h);
        ctx.font = '11px sans-serif';
        ctx.fillStyle = '#444';
        var now = history.length ? history[history.length - 1].time : Date.now();
        var maxRate = 1048576, maxDirty = 1048576; // at least 1 MiB(/s) tall: readable labels when idle
        history.forEach(function (p) {
            maxRate = Math.max(maxRate, p.readRate, p.writeRate);
            maxDirty = Math.max(maxDirty, p.dirty);
        });
        var x = function (p) {
            return left + (w - left - right) * (1 - (now - p.time) / keepMs);
        };
        var yRate = function (v) {
            return h - bottom - (h - top - bottom) * v / maxRate;
        };
        var yDirty = function (v) {
            return h - bottom - (h - top - bottom) * v / maxDirty;
        };
        ctx.strokeStyle = '#ddd';
        ctx.lineWidth = 1;
        for (var i = 0; i <= 4; i++) {
            var gy = top + (h - top - bottom) * i / 4;
            ctx.beginPath();
            ctx.moveTo(left, gy);
            ctx.lineTo(w - right, gy);
            ctx.stroke();
            ctx.fillText(human(maxRate * (4 - i) / 4) + '/s', 2, gy + 4);
            ctx.fillText(human(maxDirty * (4 - i) / 4), w - right + 4, gy + 4);
        }
        ctx.fillText('-5 min', left, h - 4);
        ctx.fillText('now', w - right - 20, h - 4);
        line(ctx, history, '#1f77b4', x, function (p) { return yRate(p.readRate); });
        line(ctx, history, '#2ca02c', x, function (p) { return yRate(p.writeRate); });
        line(ctx, history, '#d62728', x, function (p) { return yDirty(p.dirty); });
        var latest = history.length ? history[history.length - 1] : null;
        document.getElementById('pcache-legend').textContent = latest
            ? 'all caches: read ' + human(latest.readRate) + '/s (blue), write ' + human(latest.writeRate)
                + '/s (green), dirty ' + human(latest.dirty) + ' (red, right axis)'
            : 'read (blue), write (green): left axis; dirty (red): right axis';
    }

    function poll() {
        fetch(root + '/caches.json', {credentials: 'same-origin', cache: 'no-store'})
            .then(function (r) {
                if (!r.ok) {
                    throw new Error('HTTP ' + r.status);
                }
                return r.json();
            })
            .then(function (data) {
                fillTable(data.caches);
                fillNotOpen(data.notOpen);
                fillRefused(data.refused);
                record(data);
                draw();
                box.setAttribute('data-updated', String(data.time));
                box.setAttribute('data-points', String(history.length));
            })
            .catch(function (e) {
                document.getElementById('pcache-legend').textContent = 'cannot read ' + root + '/caches.json: ' + e;
            })
            .then(function () {
                setTimeout(poll, pollMs);
            });
    }

    draw();
    poll();
}());
