// The Emscripten factory inside libpg-query (its package index keeps one module instance for the whole
// process; the router instantiates its own so that it can replace one a failure left damaged).
declare module 'libpg-query/wasm/libpg-query.js' {
  const createModule: (options?: Record<string, unknown>) => Promise<unknown>;
  export default createModule;
}
