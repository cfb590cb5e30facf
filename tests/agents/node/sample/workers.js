// A worker thread and a child process: each records a trace whose parent is this one's.
const { Worker } = require('worker_threads');
const { execFileSync } = require('child_process');

function cubeInWorker(n) {
  return new Promise((resolve) => {
    new Worker(`${__dirname}/lib/cube-worker.js`, { workerData: n }).on('message', resolve);
  });
}

function spawnChild() { return execFileSync(process.execPath, ['lib/child.js'], { encoding: 'utf8' }).trim(); }

cubeInWorker(5).then((cubed) => console.log('worker', cubed, 'child', spawnChild()));
