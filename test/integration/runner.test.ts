import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { check } from '../../src/checkers/check.ts';
import { defineLab } from '../../src/engine/lab.ts';
import { runLab } from '../../src/index.ts';
import { zookeeper } from '../../stacks/zookeeper/stack.ts';
import { leftovers } from '../helpers/docker.ts';
import { tempDir } from '../helpers/temp.ts';

/** Labs made for testing the runner's verdicts on a real (one-node) ensemble. */
const base = {
  title: 'test',
  teaches: 'test',
  notes: 'test',
  params: {},
  stack: zookeeper,
  topology: () => ({ nodes: 1 }),
  mechanism: async () => [] as string[],
  async run() {},
};

describe('runner verdicts and evidence', () => {
  it('a lab whose mechanism is not in force is unknown, not pass', async () => {
    const lab = defineLab({
      ...base,
      id: 'test/misconfigured',
      mechanism: async () => ['mirrors were never synchronised'],
      check: () => [check('x', true, '', '')],
    });
    const r = await runLab(lab, { outDir: tempDir('runner') });
    expect(r.verdict).toBe('unknown');
    expect(r.reason).toMatch(/mirrors were never synchronised/);
    expect(await leftovers('test/misconfigured')).toEqual({ containers: 0, networks: 0 });
  });

  it('a wait that runs out in run is evidence for the checks: fail, not unknown', async () => {
    const lab = defineLab({
      ...base,
      id: 'test/gave-up',
      async run(ctx) {
        const v = await ctx.until('something that never happens', async () => ({ done: false, seen: 'nothing' }), {
          timeoutMs: 300,
          intervalMs: 50,
        });
        ctx.observe('reached', v !== undefined);
      },
      check: (ev) => [
        check(
          'it happened',
          ev.observations.some((o) => o.name === 'reached' && o.value),
          'true',
          'false',
        ),
      ],
    });
    const r = await runLab(lab, { outDir: tempDir('runner') });
    expect(r.verdict).toBe('fail');
  });

  it('a failing check fails the lab and the evidence folder keeps everything', async () => {
    const out = tempDir('runner');
    const lab = defineLab({
      ...base,
      id: 'test/failing',
      async run(ctx) {
        ctx.history.invoke('p', 'write', { id: 'a' }).ok();
        await ctx.faults.kill('zk1');
      },
      check: () => [check('always wrong', false, 'x', 'y')],
    });
    const r = await runLab(lab, { outDir: out });
    expect(r.verdict).toBe('fail');
    for (const f of [
      'history.jsonl',
      'faults.json',
      'observations.json',
      'result.json',
      'story.json',
      'report.html',
      'junit.xml',
      'logs/zk1.log',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const faults = JSON.parse(readFileSync(join(out, 'faults.json'), 'utf8'));
    expect(faults[0]).toMatchObject({ kind: 'kill', targets: ['zk1'] });
    expect(faults[0].end).toBeGreaterThan(faults[0].start);
    expect(readFileSync(join(out, 'logs/zk1.log'), 'utf8')).toMatch(/QuorumPeer/);
    expect(await leftovers('test/failing')).toEqual({ containers: 0, networks: 0 });
  });
});
