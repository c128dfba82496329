// A DATABASE trigger's function: it gets the change event as its one argument.
exports = async function (changeEvent) {
  const order = changeEvent.fullDocument;
  const summary = await context.functions.execute('orders/summary', order.lines);
  // The app's database (locally: .triggerbox/db; `triggerbox db find --ns shop.sales`).
  const sales = context.services.get('mongodb-atlas').db('shop').collection('sales');
  const totals = await sales.findOneAndUpdate(
    { _id: summary.currency },
    { $inc: { orders: 1, revenue: summary.total } },
    { upsert: true, returnNewDocument: true },
  );
  console.log(
    `order ${order._id} paid: ${totals.orders} paid orders, ${totals.revenue} ${totals._id}`,
  );
  return summary;
};
