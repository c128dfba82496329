/** Running guest bundles under node:vm: the values a host op returns, as the guest gets them. */
import vm from 'node:vm';

export interface GuestRealm {
  Object: ObjectConstructor;
  Array: ArrayConstructor;
  Uint8Array: Uint8ArrayConstructor;
  Error: ErrorConstructor;
}

/**
 * A node:vm context's own constructors, and a copy into that realm of what a host op returned:
 * what isolated-vm's copy does (the guest gets values of its own realm). For tests that run
 * guest bundles under node:vm with a host op table.
 */
export function guestRealm(context: vm.Context): {
  realm: GuestRealm;
  toGuest: (value: unknown) => unknown;
} {
  const realm = vm.runInContext('({ Object, Array, Uint8Array, Error })', context) as GuestRealm;
  const toGuest = (value: unknown): unknown => {
    if (value instanceof Uint8Array) return new realm.Uint8Array(value);
    if (Array.isArray(value)) return realm.Array.from(value, toGuest);
    if (typeof value === 'object' && value !== null) {
      const copy = new realm.Object() as Record<string, unknown>;
      for (const [k, v] of Object.entries(value)) copy[k] = toGuest(v);
      return copy;
    }
    return value;
  };
  return { realm, toGuest };
}
