// The demo web-archive analytics dataset: schema, deterministic generator and loader.
export { loadDemo, type LoadDemoOptions, type DemoStep } from './load.js';
export { demoSizes, type DemoSizes } from './generate.js';
export { DEMO_TABLES, DEMO_START, DEMO_DAYS, type DemoTable } from './schema.js';
