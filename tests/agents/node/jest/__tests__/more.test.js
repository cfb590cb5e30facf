const { Cart } = require('../src/cart');

test('an empty cart totals nothing', () => {
  expect(new Cart('eve').total()).toBe(0);
});
