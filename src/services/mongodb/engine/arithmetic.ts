/**
 * $inc and $mul arithmetic in the widest type of the operands, as the server computes it:
 * Decimal128 if either is one (exact, rounded to 34 digits), else a double if either has a
 * fraction, else Long if either is one (overflow is an error, not a wrap), else a JS number.
 */
import { Decimal128, Long } from 'bson';
import { toDecimal } from './bson-values.js';
import { badValue } from './errors.js';

export function arithmetic(op: 'add' | 'mul', a: unknown, b: unknown): unknown {
  if (a instanceof Decimal128 || b instanceof Decimal128) {
    const x = toDecimal(a);
    const y = toDecimal(b);
    if (x.special || y.special)
      throw badValue('arithmetic on NaN or Infinity decimals is not supported locally');
    let coef: bigint;
    let exp: number;
    if (op === 'mul') {
      coef = x.coef * y.coef;
      exp = x.exp + y.exp;
    } else {
      exp = Math.min(x.exp, y.exp);
      coef = x.coef * 10n ** BigInt(x.exp - exp) + y.coef * 10n ** BigInt(y.exp - exp);
    }
    return Decimal128.fromStringWithRounding(`${coef}E${exp}`);
  }
  const isDouble = (v: unknown) => typeof v === 'number' && !Number.isInteger(v);
  if ((a instanceof Long || b instanceof Long) && !isDouble(a) && !isDouble(b)) {
    const x = BigInt(a instanceof Long ? a.toString() : String(a));
    const y = BigInt(b instanceof Long ? b.toString() : String(b));
    const result = op === 'add' ? x + y : x * y;
    if (result > 2n ** 63n - 1n || result < -(2n ** 63n))
      throw badValue(
        `Failed to apply ${op === 'add' ? '$inc' : '$mul'}: the result overflows a 64-bit integer`,
      );
    return Long.fromBigInt(result);
  }
  const x = a instanceof Long ? a.toNumber() : (a as number);
  const y = b instanceof Long ? b.toNumber() : (b as number);
  return op === 'add' ? x + y : x * y;
}
