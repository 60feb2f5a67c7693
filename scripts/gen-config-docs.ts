// Regenerates the configuration reference in README.md and duckgate.example.yaml from the schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { configReferenceMarkdown, exampleYaml } from '../src/config/docs.js';

const readme = readFileSync('README.md', 'utf8');
const start = '<!-- config:start -->';
const end = '<!-- config:end -->';
const a = readme.indexOf(start);
const b = readme.indexOf(end);
if (a < 0 || b < 0) throw new Error('README.md lacks the config markers');
writeFileSync('README.md', readme.slice(0, a + start.length) + '\n' + configReferenceMarkdown() + '\n' + readme.slice(b));
writeFileSync('duckgate.example.yaml', exampleYaml());
console.log('README.md and duckgate.example.yaml updated');
