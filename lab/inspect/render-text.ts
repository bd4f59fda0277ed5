// `forklab inspect` for people: the process tree, the epoll instances and what they watch, the
// listening sockets, the findings, and what could not be seen.
import type { Evidence, Watch } from './evidence';
import type { Finding } from './findings';

const WIDTH = 100;

/** Words wrapped to lines of at most `width` characters (a longer word gets its own line). */
function wrapWords(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  out.push(line);
  return out;
}

function watchLine(w: Watch): string {
  const how = [
    w.trigger === 'edge' ? 'edge' : 'level',
    w.exclusive ? 'exclusive' : '',
    w.oneshot ? 'oneshot' : '',
  ]
    .filter(Boolean)
    .join(', ');
  const where = w.local ? ` ${w.local}${w.remote ? ` ← ${w.remote}` : ''}` : '';
  return `fd ${String(w.tfd).padStart(3)}  ${w.kind}${where}  [${how}]  events ${w.events}`;
}

export function renderText(evidence: Evidence, findings: Finding[]): string {
  const lines: string[] = [];
  const byPid = new Map(evidence.processes.map((p) => [p.pid, p]));
  lines.push(`Process tree under ${evidence.rootPid} (${evidence.inspectedAt})`);
  for (const p of evidence.processes) {
    let depth = 0;
    for (
      let q = byPid.get(p.ppid);
      q && p.pid !== evidence.rootPid && depth < 64;
      q = byPid.get(q.ppid)
    ) {
      depth++;
      if (q.pid === evidence.rootPid) break;
    }
    const inst = evidence.instances
      .filter((x) => x.holders.some((h) => h.pid === p.pid))
      .map((x) => {
        const fds = x.holders.filter((h) => h.pid === p.pid).map((h) => h.fd);
        return `${x.id} (fd ${fds.join(',')}${x.waiters.includes(p.pid) ? ', waiting' : ''})`;
      });
    lines.push(
      `${'  '.repeat(depth + 1)}${p.pid} ${p.name}${inst.length ? `  epoll: ${inst.join(' ')}` : ''}${p.unseen ? `  [${p.unseen}]` : ''}`,
    );
  }
  lines.push('', 'Epoll instances');
  if (evidence.instances.length === 0) lines.push('  none');
  for (const x of evidence.instances) {
    const shared = x.pids.length > 1 ? `SHARED by ${x.pids.length} processes` : 'own';
    lines.push(`  ${x.id}  ${shared}: pids ${x.pids.join(', ')}  watches ${x.watches.length}`);
    for (const w of x.watches) lines.push(`      ${watchLine(w)}`);
  }
  lines.push('', 'Listening sockets');
  if (evidence.listeners.length === 0) lines.push('  none');
  for (const l of evidence.listeners) {
    const by =
      l.watchedBy.map((w) => `${w.instance}${w.exclusive ? ' exclusive' : ''}`).join(', ') ||
      'no epoll instance';
    const role =
      l.role === 'server'
        ? '  [server]'
        : l.role === 'adapter'
          ? '  [adapter, not under load]'
          : '';
    lines.push(
      `  ${l.endpoint}${role}  inode ${l.inode}  backlog ${l.backlog ?? '?'}  accept queue ${l.acceptQueue}  held by ${l.heldBy.join(', ')}  watched by ${by}`,
    );
  }
  for (const g of evidence.reuseportGroups) {
    lines.push(
      `  SO_REUSEPORT group on ${g.endpoint}: ${g.inodes.length} sockets (inodes ${g.inodes.join(', ')})`,
    );
  }
  lines.push('', 'Findings');
  if (findings.length === 0) lines.push('  nothing to report');
  for (const f of findings) {
    const w = wrapWords(f.text, WIDTH - 8);
    lines.push(
      `  ${f.severity.toUpperCase().padEnd(4)}  ${w[0]}`,
      ...w.slice(1).map((x) => `        ${x}`),
    );
  }
  if (evidence.unseen.length > 0) {
    lines.push('', 'Not seen');
    for (const u of evidence.unseen) lines.push(`  ${u}`);
  }
  if (!evidence.kcmp.available) lines.push('', `kcmp unavailable: ${evidence.kcmp.reason}`);
  return `${lines.join('\n')}\n`;
}
