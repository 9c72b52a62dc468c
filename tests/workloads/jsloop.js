// jsloop.js - a node workload for tests/e2e/record_node.sh: hot JavaScript
// functions that V8 compiles to machine code (JIT code in anonymous memory),
// one of them calling V8 builtins (which node 20 runs from a second mapping
// of its executable, near the JIT code).
//
// usage: node [--perf-basic-prof] jsloop.js SECONDS
// Runs SECONDS seconds of CPU-bound work and exits by itself; after a
// second of warm-up (time for V8 to optimize the hot functions) it prints
// "ready PID" (its pid as it sees it: 1 in a pid namespace of its own).
'use strict';

const seconds = Number(process.argv[2] || 20);

// Numbers only: compiled to straight-line machine code.
function hotLoop(n) {
	let s = 0;
	for (let i = 0; i < n; i++)
		s += Math.sqrt(i) * (i & 7);
	return s;
}

// Strings: most of the time in builtins (StringAdd, NumberToString,
// StringIndexOf) called from the compiled function.
function strWork(n) {
	let s = 0;
	for (let i = 0; i < n; i++) {
		const t = 'k' + i;
		s += t.indexOf('7') + t.charCodeAt(1);
	}
	return s;
}

function driver(until) {
	let t = 0;
	while (Date.now() < until) {
		t += hotLoop(200000);
		t += strWork(20000);
	}
	return t;
}

const start = Date.now();
let sum = driver(start + 1000);
process.stdout.write(`ready ${process.pid}\n`);
sum += driver(start + seconds * 1000);
// Keeps the work from being optimized away.
if (sum === 42)
	console.log(sum);
