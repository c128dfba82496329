exports = async function (lines) {
  let total = 0;
  for (const line of lines) {
    // functions.execute runs the (private) callee in the same sandbox and returns its value.
    total += context.functions.execute('orders/price', line.sku) * line.qty;
  }
  const currency = context.environment.values.currency;
  console.log(`${lines.length} order lines, total ${total} ${currency}`);
  return { lines: lines.length, total, currency };
};
