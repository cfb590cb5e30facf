const { parentPort, workerData } = require('worker_threads');
function cube(n) { return n ** 3; }
parentPort.postMessage(cube(workerData));
