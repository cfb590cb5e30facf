import { createRequire } from 'node:module';
import { loadUser } from './lib/users.mjs';

const { Cart, checkout } = createRequire(import.meta.url)('./cart.js');

function quit(code) { process.exit(code); }

function explode(why) {
  const password = 'hunter2-long', loud = why.toUpperCase();
  throw new TypeError(`boom: ${loud}`);
}

async function handler(id) {
  const user = await loadUser(id);
  return { ok: true, user };
}

const cart = new Cart('ada');
cart.put('tea', 3);
cart.put('cake', 4);
console.log('total', checkout(cart, 'hunter2-long'));
console.log('user', JSON.stringify(await handler(1)));
const scenario = process.argv[2];
if (scenario === 'reject') handler(-2);
if (scenario === 'timer') setTimeout(function tick() { explode('late'); }, 5);
if (scenario === 'exit') (function leave() { quit(0); })();
if (scenario === 'secret') console.log('token length', String(process.env.APP_API_TOKEN).length);
