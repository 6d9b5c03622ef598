import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { reap } from '../../src/runtime/reaper.ts';

describe('the Kafka client', () => {
  afterAll(() => reap('test-consumer-vanished'));

  // A consumer whose stream failed joins again until it is stopped: a lab whose cluster
  // vanished under its consumer must still end once the consumer is stopped.
  it('lets the process end once a consumer is stopped, even after its cluster vanished', () => {
    const r = spawnSync(process.execPath, ['test/helpers/consumer-on-vanished-cluster.ts'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.signal, 'the process had to be killed: something kept it alive').toBeNull();
    expect(r.stdout, r.stderr).toBe('stopped\n');
    expect(r.status).toBe(0);
  });
});
