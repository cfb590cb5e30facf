'use strict';
// CommonJS: a call tree with arguments and return values.
const add = (a, b) => a + b;

class Cart {
  constructor(owner) { this.owner = owner; this.items = []; }
  put(name, price) { this.items.push({ name, price }); return this.items.length; }
  total() { return this.items.reduce((sum, item) => add(sum, item.price), 0); }
}

function checkout(cart, password) {
  const total = cart.total();
  if (password !== 'hunter2-long') throw new Error('bad login');
  return total;
}

module.exports = { Cart, checkout };
