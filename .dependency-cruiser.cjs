// Import direction, as ../shared/docs/ARCHITECTURE.md lays it out. Run by `npm run lint:deps` (part of npm test).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'leaf-folders-import-nothing',
      comment: 'protocol, config and observability are leaves: they import nothing from src/',
      severity: 'error',
      from: { path: '^src/(protocol|config|observability)/' },
      to: { path: '^src/', pathNot: '^src/$1/' },
    },
    {
      name: 'router-is-pure',
      comment: 'router imports only protocol types (and itself)',
      severity: 'error',
      from: { path: '^src/router/' },
      to: { path: '^src/', pathNot: '^src/(router|protocol)/' },
    },
    {
      name: 'engines-and-cache-below-session',
      comment: 'engines, cache and mirror never import session, admin or the composition root',
      severity: 'error',
      from: { path: '^src/(engines|cache|mirror|demo)/' },
      to: { path: '^src/(session|admin|main\\.ts|cli\\.ts)' },
    },
    {
      name: 'engines-do-not-know-the-mirror-or-cache',
      comment: 'engines are wrapped from outside (cache, breaker); the mirror is handed in through interfaces',
      severity: 'error',
      from: { path: '^src/engines/' },
      to: { path: '^src/(cache|mirror)/' },
    },
    {
      name: 'nothing-imports-the-root',
      comment: 'only cli.ts may import main.ts',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli\\.ts$' },
      to: { path: '^src/(main|cli)\\.ts$' },
    },
    {
      name: 'nothing-imports-session',
      comment: 'session is imported only by the composition root',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(session/|main\\.ts$|cli\\.ts$)' },
      to: { path: '^src/session/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
