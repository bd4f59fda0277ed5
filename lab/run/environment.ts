// What a run records about where it ran: enough to tell two runs' machines apart.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../native/engine';
import type { RunEnvironment } from '../record/run-record';

const REPO = path.resolve(__dirname, '..', '..');

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: REPO, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

export function captureEnvironment(runtime: {
  kind: 'docker' | 'local';
  docker: string | null;
  note: string | null;
}): RunEnvironment {
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    gitCommit: git(['rev-parse', 'HEAD']),
    gitDirty: status !== null && status.length > 0,
    host: os.hostname(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    cpus: os.cpus().length,
    runtime: runtime.kind,
    docker: runtime.docker,
    runtimeNote: runtime.note,
    engineVersion: Engine.version(),
  };
}
