import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** A trainee's session, played by a program that answers every prompt as it appears. */
describe('step mode', () => {
  it('waits at each step, shows commands for the live nodes, asks and grades predictions', async () => {
    const child = spawn(process.execPath, ['bin/midlab.js', 'run', 'zookeeper/observer', '--step'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let answered = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      // Answer each new prompt once: Enter for a step, "2" for a prediction.
      const prompts = (out.match(/Enter runs this step|your prediction/g) ?? []).length;
      while (answered < prompts) {
        const isPrediction =
          [...out.matchAll(/Enter runs this step|your prediction/g)][answered]?.[0] === 'your prediction';
        child.stdin.write(isPrediction ? '2\n' : '\n');
        answered++;
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    expect(out.match(/Enter runs this step/g)).toHaveLength(3);
    expect(out).toMatch(/try: docker exec midlab-zookeeper-observer-zk4 /);
    expect(out).toMatch(/Two of the three voters are about to die/);
    expect(out).toMatch(/✓ Two of the three voters[\s\S]*you said: no: observers do not vote/);
  });
});
