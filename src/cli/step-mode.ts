import { createInterface, type Interface } from 'node:readline';
import type { Prediction } from '../engine/lab.ts';
import type { RunOptions } from '../engine/runner.ts';
import { InterruptedError } from '../errors.ts';
import { paint, useColor } from '../report/console.ts';

/**
 * Step mode for trainees: before each step, wait for Enter (q stops the lab, which then
 * tears down as usual); before a fault, ask the lab's prediction as a multiple choice.
 * Works with any program answering on stdin (a terminal, tmux, a pseudo-terminal); when
 * stdin ends, the lab simply carries on.
 */
export function stepMode(): Pick<RunOptions, 'beforeStep' | 'ask'> & { close(): void } {
  const c = paint(useColor());
  let rl: Interface | undefined;
  const lines: string[] = [];
  const waiting: ((line: string | undefined) => void)[] = [];
  let ended = false;
  const readLine = (prompt: string): Promise<string | undefined> => {
    process.stdout.write(prompt);
    rl ??= createInterface({ input: process.stdin })
      .on('line', (l) => {
        const w = waiting.shift();
        if (w) w(l);
        else lines.push(l);
      })
      .on('close', () => {
        ended = true;
        for (const w of waiting.splice(0)) w(undefined);
      });
    if (lines.length) return Promise.resolve(lines.shift());
    if (ended) return Promise.resolve(undefined);
    return new Promise((resolve) => waiting.push(resolve));
  };
  return {
    async beforeStep() {
      const line = await readLine(c.bold('   ⏎ Enter runs this step (q stops the lab) '));
      if (line?.trim().toLowerCase() === 'q') throw new InterruptedError('the trainee (q)');
    },
    async ask(p: Prediction) {
      process.stdout.write(`\n   ${c.yellow('?')} ${c.bold(p.question)}\n`);
      for (const [i, choice] of p.choices.entries()) process.stdout.write(`     ${i + 1}) ${choice}\n`);
      for (let attempt = 0; attempt < 3; attempt++) {
        const line = await readLine(`   your prediction (1-${p.choices.length}, Enter to skip): `);
        if (line === undefined || line.trim() === '') return undefined;
        const n = Number(line.trim());
        if (Number.isInteger(n) && n >= 1 && n <= p.choices.length) return n - 1;
      }
      return undefined;
    },
    close() {
      rl?.close();
    },
  };
}
