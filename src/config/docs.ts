// The configuration reference, rendered from the schema so the README and the example file cannot drift
// from the code (test/unit/docs.test.ts checks both).
import { options } from './load.js';

function show(v: unknown): string {
  if (v === null) return '(unset)';
  if (Array.isArray(v)) return v.length ? v.join(', ') : '(none)';
  if (v === '') return '""';
  return String(v);
}

/** Markdown table: key, default, env, flag, meaning. */
export function configReferenceMarkdown(): string {
  const rows = options().map(({ path, option }) => {
    const via = [option.flag ? `\`--${option.flag}\`` : '', option.env ? `\`${option.env}\`` : ''].filter(Boolean).join(' ');
    return `| \`${path}\` | \`${show(option.default)}\` | ${via} | ${option.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| key | default | flag / env | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** A commented YAML file with every option at its default. */
export function exampleYaml(): string {
  const lines = ['# duckgate configuration: every option, at its default. Generated from src/config/schema.ts', '# (npm run docs:config). Flags and DUCKGATE_* environment variables override this file.', ''];
  let section = '';
  for (const { path, option } of options()) {
    const parts = path.split('.');
    const indent = parts.length > 1 ? '  ' : '';
    if (parts.length > 1 && parts[0] !== section) {
      section = parts[0]!;
      lines.push(`${section}:`);
    } else if (parts.length === 1) section = '';
    lines.push(`${indent}# ${option.doc}${option.env ? ` [${option.env}]` : ''}`);
    const v = option.default;
    const yaml = v === null ? 'null' : Array.isArray(v) ? JSON.stringify(v) : typeof v === 'string' ? JSON.stringify(v) : String(v);
    lines.push(`${indent}${parts[parts.length - 1]}: ${yaml}`);
  }
  return lines.join('\n') + '\n';
}
