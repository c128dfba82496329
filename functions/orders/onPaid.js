// A DATABASE trigger's function: it gets the change event as its one argument.
exports = function (changeEvent) {
  const order = changeEvent.fullDocument;
  const total = context.functions.execute('orders/summary', order.lines);
  console.log(`order ${order._id} paid`);
  return total;
};
