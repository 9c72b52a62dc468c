/*
 * flame.js - the flame graph page of cprof (src/flame.c embeds it).
 *
 * Reads the JSON model of the profile (src/flame.h) from the page, builds
 * the call tree for the chosen sample type and thread, and draws it with
 * absolutely positioned divs, one per frame: the DOM is the picture, so
 * it can be inspected (data-name, data-w: width as a fraction of the view,
 * data-share: the frame's share of the whole). Siblings narrower than one
 * pixel are merged into one grey block and not descended into
 * (docs/design.md §12). Plain JavaScript, no library, nothing fetched.
 *
 * The URL fragment (or query) sets the view: #search=TEXT&regex=1&
 * type=NAME&thread=NAME&icicle=1.
 */
(function () {
	'use strict';

	var ROW = 18;
	var CLASS_HUE = [[0, 30, 85, 62], [190, 30, 60, 68], [38, 14, 85, 58],
		[100, 30, 50, 58], [0, 0, 0, 72]];
	var D = JSON.parse(document.getElementById('cprof-data').textContent);
	var S = D.strings;
	var $ = function (id) { return document.getElementById(id); };
	var chart = $('chart'), tip = $('tip');
	var state = { type: D.type, thread: '', icicle: false, search: '',
		regex: false, zoom: [] };
	var root = null, view = null, drawn = [];

	/* --- the URL ----------------------------------------------------- */

	function readParams() {
		var q = new URLSearchParams(location.search);
		var h = new URLSearchParams(location.hash.replace(/^#/, ''));
		function get(k) { return h.has(k) ? h.get(k) : q.get(k); }
		if (get('search') !== null)
			state.search = get('search');
		state.regex = get('regex') === '1';
		state.icicle = get('icicle') === '1';
		var t = get('type');
		if (t !== null)
			for (var i = 0; i < D.types.length; i++)
				if (D.types[i][0] === t)
					state.type = i;
		if (get('thread') !== null)
			state.thread = get('thread');
	}

	function writeParams() {
		var h = new URLSearchParams();
		if (state.search)
			h.set('search', state.search);
		if (state.regex)
			h.set('regex', '1');
		if (state.icicle)
			h.set('icicle', '1');
		if (state.type !== D.type)
			h.set('type', D.types[state.type][0]);
		if (state.thread)
			h.set('thread', state.thread);
		try {
			history.replaceState(null, '', '#' + h.toString());
		} catch (e) { /* some file:// pages refuse it: no matter */ }
	}

	/* --- values ------------------------------------------------------ */

	var SCALES = {
		nanoseconds: [[1e9, 's'], [1e6, 'ms'], [1e3, '\u00b5s'], [1, 'ns']],
		microseconds: [[1e6, 's'], [1e3, 'ms'], [1, '\u00b5s']],
		milliseconds: [[1e3, 's'], [1, 'ms']],
		seconds: [[1, 's']],
		bytes: [[1 << 30, 'GB'], [1 << 20, 'MB'], [1 << 10, 'kB'], [1, 'B']]
	};

	function fmtValue(v) {
		var unit = D.types[state.type][1];
		var sc = SCALES[unit];
		if (!sc)
			return v.toLocaleString('en-US') + (unit && unit !== 'count' ? ' ' + unit : '');
		for (var i = 0; i < sc.length; i++)
			if (Math.abs(v) >= sc[i][0] || i === sc.length - 1)
				return +(v / sc[i][0]).toFixed(2) + ' ' + sc[i][1];
		return String(v);
	}

	function pct(v, of) {
		return of ? (100 * v / of).toFixed(2) + '%' : '-';
	}

	/* --- the tree ---------------------------------------------------- */

	function Node(f, parent) {
		this.f = f;		/* frame index; -1 for the root */
		this.parent = parent;
		this.depth = parent ? parent.depth + 1 : 0;
		this.total = 0;
		this.self = 0;
		this.kids = null;	/* Map frame -> Node */
	}

	function threadIndex() {
		if (!state.thread)
			return null;
		for (var i = 0; i < D.threads.length; i++)
			if (S[D.threads[i]] === state.thread)
				return D.threads[i];
		return -2;	/* no such thread: nothing */
	}

	function build() {
		var r = new Node(-1, null), col = 2 + state.type, th = threadIndex();
		var samples = D.samples, stacks = D.stacks;
		for (var i = 0; i < samples.length; i++) {
			var s = samples[i], v = s[col];
			if (!v || (th !== null && s[1] !== th))
				continue;
			var st = stacks[s[0]], n = r;
			r.total += v;
			for (var j = 0; j < st.length; j++) {
				var k = n.kids || (n.kids = new Map());
				var c = k.get(st[j]);
				if (!c) {
					c = new Node(st[j], n);
					k.set(st[j], c);
				}
				c.total += v;
				n = c;
			}
			n.self += v;
		}
		return r;
	}

	function name(n) {
		return n.f < 0 ? 'all' : S[D.frames[n.f][0]];
	}

	function sortedKids(n) {
		if (!n.kids)
			return [];
		if (!n.sorted) {
			n.sorted = Array.from(n.kids.values());
			n.sorted.sort(function (a, b) {
				var x = name(a), y = name(b);
				return x < y ? -1 : x > y ? 1 : a.f - b.f;
			});
		}
		return n.sorted;
	}

	function pathOf(n) {
		var p = [];
		for (; n && n.parent; n = n.parent)
			p.unshift(n.f);
		return p;
	}

	function nodeAt(path) {
		var n = root;
		for (var i = 0; i < path.length; i++) {
			var c = n.kids && n.kids.get(path[i]);
			if (!c)
				return root;
			n = c;
		}
		return n;
	}

	/* --- search ------------------------------------------------------ */

	function matcher() {
		if (!state.search)
			return null;
		if (state.regex) {
			try {
				var re = new RegExp(state.search);
				return function (s) { return re.test(s); };
			} catch (e) {
				return function () { return false; };
			}
		}
		var q = state.search;
		return function (s) { return s.indexOf(q) >= 0; };
	}

	/* The share of the total in frames that match, a frame under a
	 * matching one counted once. */
	function matchedTotal(m) {
		var sum = 0, todo = [root];
		while (todo.length) {
			var n = todo.pop();
			if (n.f >= 0 && m(name(n))) {
				sum += n.total;
				continue;
			}
			if (n.kids)
				n.kids.forEach(function (c) { todo.push(c); });
		}
		return sum;
	}

	/* --- drawing ----------------------------------------------------- */

	function colour(n) {
		var fr = D.frames[n.f], c = CLASS_HUE[fr[4]] || CLASS_HUE[4];
		var s = S[fr[0]], h = 0;
		for (var i = 0; i < s.length && i < 24; i++)
			h = (h * 31 + s.charCodeAt(i)) >>> 0;
		var x = (h % 1000) / 1000;
		if (c[1] === 0)
			return 'hsl(0,0%,' + (66 + 12 * x).toFixed(0) + '%)';
		return 'hsl(' + (c[0] + c[1] * x).toFixed(0) + ',' + c[2] + '%,' + c[3] + '%)';
	}

	/* What to draw: {n, x, w, depth, small} with x and w fractions of the
	 * view's total; the view's ancestors full width. */
	function layout(width) {
		var items = [], min = 1 / width;
		for (var a = view.parent; a; a = a.parent)
			items.push({ n: a, x: 0, w: 1, depth: a.depth, anc: true });
		var todo = [{ n: view, x: 0, w: 1 }];
		while (todo.length) {
			var it = todo.pop(), n = it.n;
			items.push({ n: n, x: it.x, w: it.w, depth: n.depth });
			var kids = sortedKids(n), x = it.x, small = 0, smallN = 0;
			for (var i = 0; i < kids.length; i++) {
				var w = view.total ? kids[i].total / view.total : 0;
				if (w <= 0)
					continue;
				if (w < min) {
					small += w;
					smallN++;
					continue;
				}
				todo.push({ n: kids[i], x: x, w: w });
				x += w;
			}
			if (smallN && small >= min)
				items.push({ n: null, x: x, w: small, depth: n.depth + 1,
					small: smallN, parent: n });
		}
		return items;
	}

	function draw() {
		var t0 = performance.now();
		var width = Math.max(chart.clientWidth, 100);
		view = view || root;
		drawn = layout(width);
		var maxDepth = 0;
		for (var i = 0; i < drawn.length; i++)
			maxDepth = Math.max(maxDepth, drawn[i].depth);
		var m = matcher(), frag = document.createDocumentFragment();
		for (i = 0; i < drawn.length; i++) {
			var it = drawn[i], d = document.createElement('div'), n = it.n;
			var top = state.icicle ? it.depth * ROW : (maxDepth - it.depth) * ROW;
			d.className = 'f';
			d.style.left = (100 * it.x) + '%';
			d.style.width = (100 * it.w) + '%';
			d.style.top = top + 'px';
			d.dataset.i = i;
			d.dataset.w = it.w.toFixed(6);
			if (it.small) {
				d.className += ' s';
				d.dataset.name = '(' + it.small + ' small frames)';
				d.dataset.share = root.total ? (it.w * view.total / root.total).toFixed(6) : '0';
			} else {
				var nm = name(n);
				d.dataset.name = nm;
				d.dataset.share = root.total ? (n.total / root.total).toFixed(6) : '0';
				if (n.f < 0)
					d.style.backgroundColor = 'hsl(0,0%,80%)';
				else {
					d.style.backgroundColor = colour(n);
					if (D.frames[n.f][5])
						d.className += ' i';
				}
				if (it.anc)
					d.className += ' z';
				if (m && n.f >= 0 && m(nm)) {
					d.className += ' m';
					d.dataset.match = '1';
				}
				if (it.w * width > 24)
					d.textContent = nm;
			}
			frag.appendChild(d);
		}
		chart.textContent = '';
		chart.style.height = ((maxDepth + 1) * ROW) + 'px';
		chart.appendChild(frag);
		chart.dataset.frames = drawn.length;
		showMatch(m);
		var ms = performance.now() - t0;
		chart.dataset.drawMs = ms.toFixed(1);
		return ms;
	}

	function showMatch(m) {
		var el = $('matched');
		if (!m) {
			el.hidden = true;
			delete el.dataset.share;
			return;
		}
		var v = matchedTotal(m);
		el.hidden = false;
		el.dataset.share = root.total ? (v / root.total).toFixed(6) : '0';
		el.textContent = 'matched: ' + pct(v, root.total) + ' of the total (' + fmtValue(v) + ')';
	}

	/* --- the tooltip ------------------------------------------------- */

	function line(parent, label, text) {
		var div = document.createElement('div');
		if (label) {
			var b = document.createElement('b');
			b.textContent = label + ' ';
			div.appendChild(b);
		}
		div.appendChild(document.createTextNode(text));
		parent.appendChild(div);
	}

	function showTip(it, ev) {
		tip.textContent = '';
		if (it.small) {
			line(tip, '', it.small + ' frames, each under a pixel wide: zoom in to see them');
			line(tip, 'total', fmtValue(it.w * view.total) + ' (' +
				pct(it.w * view.total, root.total) + ')');
		} else {
			var n = it.n;
			line(tip, '', name(n));
			if (n.f >= 0) {
				var fr = D.frames[n.f];
				if (S[fr[1]])
					line(tip, 'file', S[fr[1]] + (fr[2] ? ':' + fr[2] : ''));
				if (S[fr[3]])
					line(tip, 'module', S[fr[3]]);
				if (fr[5])
					line(tip, '', '(inlined)');
			}
			line(tip, 'total', fmtValue(n.total) + ' (' + pct(n.total, root.total) + ')');
			line(tip, 'self', fmtValue(n.self) + ' (' + pct(n.self, root.total) + ')');
		}
		tip.hidden = false;
		var x = ev.clientX + 12, y = ev.clientY + 14;
		if (x + tip.offsetWidth > innerWidth)
			x = Math.max(0, ev.clientX - tip.offsetWidth - 12);
		if (y + tip.offsetHeight > innerHeight)
			y = Math.max(0, ev.clientY - tip.offsetHeight - 14);
		tip.style.left = x + 'px';
		tip.style.top = y + 'px';
	}

	function itemOf(ev) {
		var t = ev.target;
		return t && t.classList && t.classList.contains('f') ? drawn[+t.dataset.i] : null;
	}

	/* --- controls ---------------------------------------------------- */

	function rebuild() {
		var path = view ? pathOf(view) : [];
		root = build();
		view = nodeAt(path);
		var t = D.types[state.type];
		/* What is shown, also as attributes (the DOM says what it draws). */
		$('type').dataset.selected = t[0];
		$('thread').dataset.selected = state.thread;
		$('total').textContent = 'total ' + t[0] + ': ' + fmtValue(root.total) +
			(state.thread ? ' in thread ' + state.thread : '');
		return draw();
	}

	function init() {
		readParams();
		$('title').textContent = D.title;
		if (D.types.length > 1) {
			$('typebox').hidden = false;
			D.types.forEach(function (t, i) {
				var o = document.createElement('option');
				o.value = i;
				o.textContent = t[0] + (t[1] ? ' (' + t[1] + ')' : '');
				$('type').appendChild(o);
			});
			$('type').value = state.type;
		}
		if (D.threads.length) {
			$('threadbox').hidden = false;
			D.threads.forEach(function (s) {
				var o = document.createElement('option');
				o.value = S[s];
				o.textContent = S[s];
				$('thread').appendChild(o);
			});
			$('thread').value = state.thread;
		}
		$('search').value = state.search;
		$('regex').checked = state.regex;
		$('icicle').checked = state.icicle;

		$('type').addEventListener('change', function () {
			state.type = +this.value;
			writeParams();
			rebuild();
		});
		$('thread').addEventListener('change', function () {
			state.thread = this.value;
			writeParams();
			rebuild();
		});
		$('icicle').addEventListener('change', function () {
			state.icicle = this.checked;
			writeParams();
			draw();
		});
		$('search').addEventListener('input', function () {
			state.search = this.value;
			writeParams();
			draw();
		});
		$('regex').addEventListener('change', function () {
			state.regex = this.checked;
			$('search').placeholder = this.checked ? 'search (regex)' : 'search (substring)';
			writeParams();
			draw();
		});
		$('reset').addEventListener('click', function () {
			view = root;
			draw();
		});
		chart.addEventListener('click', function (ev) {
			var it = itemOf(ev);
			if (!it || it.small)
				return;
			view = it.n === view && view.parent ? view.parent : it.n;
			draw();
		});
		chart.addEventListener('mousemove', function (ev) {
			var it = itemOf(ev);
			if (it)
				showTip(it, ev);
			else
				tip.hidden = true;
		});
		chart.addEventListener('mouseleave', function () { tip.hidden = true; });
		var pending = 0;
		addEventListener('resize', function () {
			clearTimeout(pending);
			pending = setTimeout(draw, 100);
		});
		addEventListener('hashchange', function () {
			readParams();
			$('search').value = state.search;
			$('regex').checked = state.regex;
			$('icicle').checked = state.icicle;
			rebuild();
		});
		rebuild();
		/* For benchmarks and tests: load to first picture, in ms. */
		document.body.dataset.firstDrawMs = performance.now().toFixed(1);
		document.body.dataset.ready = '1';
	}

	init();
})();
