import type { RunEvent } from '../engine/events.ts';

/**
 * The story of a run, told as it happens, in words a trainee understands. Colour only
 * on a terminal and never with NO_COLOR.
 */
export interface ConsoleOptions {
  write?: (s: string) => void;
  color?: boolean;
  /** Print every operation (noisy; for debugging a lab). */
  ops?: boolean;
  /** A status line rewritten in place while a wait lasts (a terminal); else plain lines. */
  statusLine?: boolean;
}

export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

export function consoleReporter(opts: ConsoleOptions = {}): (e: RunEvent) => void {
  const write = opts.write ?? ((s: string) => process.stdout.write(s));
  const c = paint(opts.color ?? useColor());
  let t0 = Date.now();
  const at = () => c.dim(`[+${((Date.now() - t0) / 1000).toFixed(1)}s]`);
  const statusLine = opts.statusLine ?? Boolean(process.stdout.isTTY);
  let status = false;
  const line = (s = '') => {
    if (status) write('\r\u001b[K');
    status = false;
    write(`${s}\n`);
  };
  // Long waits say what they wait for: rewritten in place on a terminal; in a log, one
  // line after 5 s and another every 10 s of the same wait.
  let waitShown = { what: '', at: 0 };
  const progress = (what: string, seen: string, ms: number) => {
    const text = `   … waiting for ${what} (${(ms / 1000).toFixed(0)} s): ${seen}`;
    if (statusLine) {
      write(`\r\u001b[K${c.dim(text.slice(0, 110))}`);
      status = true;
    } else if (ms >= 5000 && (waitShown.what !== what || ms - waitShown.at >= 10_000)) {
      waitShown = { what, at: ms };
      line(c.dim(text));
    }
  };
  return (e) => {
    switch (e.kind) {
      case 'progress':
        progress(e.what, e.seen, e.ms);
        break;
      case 'start':
        t0 = Date.now();
        line(
          c.bold(`▶ ${e.lab}`) +
            c.dim(`${e.seed === undefined ? '' : `  seed ${e.seed}`}  params ${JSON.stringify(e.params)}`),
        );
        line(c.bold(`  ${e.title}`));
        for (const l of wrap(e.notes, 94)) line(c.dim(`  ${l}`));
        line(c.dim(`  evidence: ${e.outDir}`));
        break;
      case 'phase':
        if (e.phase === 'provision') line(c.dim(`  starting ${e.detail ?? ''} ...`));
        if (e.phase === 'health') line(c.dim(`  cluster healthy ${at()}`));
        if (e.phase === 'heal') line(c.dim(`  healing every fault still open ${at()}`));
        if (e.phase === 'teardown') line(c.dim(`  removing the cluster ${at()}`));
        break;
      case 'step':
        line();
        line(`${c.bold(`Step ${e.index}. ${e.title}`)} ${at()}`);
        for (const l of wrap(e.narration, 96)) line(`   ${l}`);
        for (const cmd of e.commands) line(c.cyan(`   try: ${cmd}`));
        break;
      case 'say':
        for (const l of wrap(e.text, 96)) line(`   ${l}`);
        break;
      case 'observe':
        if (e.text) line(`   ${c.cyan('•')} ${e.text} ${at()}`);
        break;
      case 'fault':
        line(`   ${c.red('⚡')} ${e.text} ${at()}`);
        break;
      case 'heal':
        line(`   ${c.green('↺')} ${e.text} ${at()}`);
        break;
      case 'op':
        if (opts.ops && e.op.type !== 'invoke') {
          line(
            c.dim(
              `     ${e.op.process} ${e.op.f} ${e.op.type} ${JSON.stringify(e.op.value ?? '')} ${e.op.error ?? ''}`,
            ),
          );
        }
        break;
      case 'warning':
        line(c.yellow(`   ! ${e.text}`));
        break;
      case 'check': {
        const mark = e.check.ok === true ? c.green('✓') : e.check.ok === false ? c.red('✗') : c.yellow('?');
        line(`   ${mark} ${e.check.name}: ${e.check.observed}`);
        if (e.check.ok !== true) line(c.dim(`       expected: ${e.check.expected}`));
        break;
      }
      case 'verdict': {
        const v = e.verdict === 'pass' ? c.green('PASS') : e.verdict === 'fail' ? c.red('FAIL') : c.yellow('UNKNOWN');
        line();
        line(`${c.bold(v)} ${e.reason} ${c.dim(`(${e.seconds.toFixed(1)} s)`)}`);
        break;
      }
    }
  };
}

export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let cur = '';
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (cur && cur.length + 1 + word.length > width) {
        out.push(cur);
        cur = word;
      } else cur = cur ? `${cur} ${word}` : word;
    }
    out.push(cur);
  }
  return out;
}

export function paint(on: boolean) {
  const wrapCode = (a: number, b: number) => (s: string) => (on ? `\u001b[${a}m${s}\u001b[${b}m` : s);
  return {
    bold: wrapCode(1, 22),
    dim: wrapCode(2, 22),
    red: wrapCode(31, 39),
    green: wrapCode(32, 39),
    yellow: wrapCode(33, 39),
    cyan: wrapCode(36, 39),
  };
}
