/**
 * Freezes a value and everything it holds, for objects that many callers share (the loaded
 * configuration, decrypted channel settings): a caller that tried to change one would change
 * it for everyone. An object already frozen is taken as done.
 */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
