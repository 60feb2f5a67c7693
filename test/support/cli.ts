// Runs duckgate's command line (bin/duckgate.js) as a child process, as a user would.
import { spawn } from 'node:child_process';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function duckgateCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['bin/duckgate.js', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // bin/duckgate.js says so when a local dist/ is older than src/ (it then runs the sources)
    p.on('close', (code) => resolve({ code, stdout, stderr: stderr.replace(/^duckgate: src\/ is newer than dist\/.*\n/m, '') }));
  });
}
