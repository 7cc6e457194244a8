/**
 * A port whose implementation is still loading: every method waits for it,
 * then calls it. Lets the bot answer /healthz while heavy SDKs (EC2's takes
 * ~0.4 s to import) load in the background. Only for ports whose methods
 * all return promises.
 */
export function lazyPort<T extends object>(loading: Promise<T>): T {
  loading.catch(() => undefined); // reported by the first call that needs it
  return new Proxy({} as T, {
    get(_target, method) {
      return async (...args: unknown[]) => {
        const impl = await loading;
        const fn = (impl as Record<PropertyKey, unknown>)[method];
        if (typeof fn !== 'function') throw new TypeError(`${String(method)} is not a method of this port`);
        return fn.apply(impl, args);
      };
    },
  });
}
