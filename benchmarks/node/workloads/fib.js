// Call-dense: recursive fib. Prints {"ms": work time, "cpu": its CPU time (ms, every
// thread), "rss": peak RSS in KiB}.
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

const n = Number(process.argv[2] || 25);
const start = performance.now();
const cpuStart = process.cpuUsage();
const value = fib(n);
const { user, system } = process.cpuUsage(cpuStart);
const ms = performance.now() - start;
process.stdout.write(`${JSON.stringify({ value, ms, cpu: (user + system) / 1000, rss: process.resourceUsage().maxRSS })}\n`);
