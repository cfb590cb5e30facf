// Call-dense: recursive fib. Prints {"ms": work time, "rss": peak RSS in KiB}.
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

const n = Number(process.argv[2] || 25);
const start = performance.now();
const value = fib(n);
const ms = performance.now() - start;
process.stdout.write(`${JSON.stringify({ value, ms, rss: process.resourceUsage().maxRSS })}\n`);
