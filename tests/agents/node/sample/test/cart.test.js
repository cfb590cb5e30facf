const test = require('node:test');
const assert = require('node:assert');
const { Cart } = require('../cart');

function cartOf(...prices) {
  const cart = new Cart('test');
  prices.forEach((price, i) => cart.put(`item${i}`, price));
  return cart;
}

test('totals two items', () => { assert.strictEqual(cartOf(1, 2).total(), 3); });
test('totals wrongly', () => { assert.strictEqual(cartOf(2, 2).total(), 5); });
test.describe('async', () => {
  test.it('rejects', async () => { await Promise.resolve(); assert.strictEqual(cartOf(1).total(), 2); });
});
