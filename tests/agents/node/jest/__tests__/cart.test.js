const { Cart, checkout } = require('../src/cart');

describe('Cart', () => {
  test('adds up prices', () => {
    const cart = new Cart('ann');
    cart.add('tea', 3);
    cart.add('cake', 4);
    expect(cart.total()).toBe(7);
  });

  test('refuses a negative price', () => {
    const cart = new Cart('bob');
    cart.add('tea', -3);
  });

  test('totals the basket', () => {
    const cart = new Cart('cy');
    cart.add('tea', 3);
    expect(cart.total()).toBe(4);
  });
});

test('checkout with a coupon', async () => {
  const cart = new Cart('dee');
  cart.add('tea', 3);
  expect(await checkout(cart, 'FREE', 'hunter2')).toBe(3);
});
