function price(sku) {
  const prices = context.values.get('prices');
  if (!(sku in prices)) throw new Error(`unknown SKU ${sku}`);
  return prices[sku];
}

exports = price;
