/** Resolves when `emitter` emits `event` with args satisfying `match` (no sleeps in tests). */
export function waitFor<A extends any[] = any[]>(
  emitter: { on(e: string, l: (...a: any[]) => void): unknown; off(e: string, l: (...a: any[]) => void): unknown },
  event: string,
  match: (...args: A) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    const listener = (...args: A) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
}
