import { describe, expect, it } from 'vitest';
import idempotentProducer from '../../scenarios/kafka/idempotent-producer.ts';
import { logFindings, parseDescribeProducers, parseProducerOutput } from '../../stacks/kafka/java-producer.ts';
import { expectCheck, expectVerdict, Story } from '../helpers/evidence.ts';

interface Plan {
  idempotence?: 'on' | 'off';
  /** The final read, as the producer's sequence numbers in offset order. */
  log?: number[];
  acked?: number[];
  retries?: number;
  /** Producer ids the leader kept state for before the cut. */
  producerIds?: number[];
  noFinalRead?: boolean;
}

const seq = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A run as recorded: 40 records before the cut, the cut, retries, the drain, the final read. */
function story(plan: Plan = {}): Story {
  const on = (plan.idempotence ?? 'on') === 'on';
  const s = new Story().observe('mode', 'kraft');
  s.observe('placement', { client: 'kafka1', leader: 'kafka2', follower: 'kafka3' });
  s.at(5000).observe('beforeCut', 40);
  const ids = plan.producerIds ?? (on ? [0] : []);
  s.observe(
    'producerState',
    ids.map((producerId) => ({ producerId, epoch: 0, lastSequence: 41 })),
  );
  s.at(6000).fault('partition', ['kafka3'], 8000);
  s.at(14_000).observe('cut', { hwAtCut: 42, hwAtEnd: 42, isr: ['kafka2', 'kafka3'] });
  const acked = plan.acked ?? seq(100);
  s.at(20_000).observe('producer', { acked, errors: [], retries: plan.retries ?? 12, retryLines: [] });
  if (!plan.noFinalRead) s.at(21_000).observe('log', (plan.log ?? seq(100)).map(String));
  return s;
}

/** As the runs found it: 47 and 48 first appended after 49, then each again. */
const withDuplicates = [...seq(47), 49, 47, 48, 45, 47, 46, 48, 49, ...seq(100).slice(50)];
/** Duplicates, every first copy in order. */
const inOrderCopies = [...seq(50), 45, 46, 47, 48, 49, ...seq(100).slice(50)];

describe('kafka/idempotent-producer', () => {
  it('passes with idempotence: each record once, in order, none lost', () => {
    const checks = expectVerdict(idempotentProducer, story().evidence(), 'pass');
    expectCheck(checks, 'idempotence: no record written twice', true);
  });

  it('passes without idempotence when the retries wrote duplicates', () => {
    const ev = story({ idempotence: 'off', log: withDuplicates }).evidence();
    const checks = expectVerdict(idempotentProducer, ev, 'pass', { idempotence: 'off' });
    expectCheck(checks, 'retries without idempotence wrote duplicates', true);
  });

  it('fails without idempotence when the log holds no duplicate', () => {
    const checks = expectVerdict(idempotentProducer, story({ idempotence: 'off' }).evidence(), 'fail', {
      idempotence: 'off',
    });
    expectCheck(checks, 'retries without idempotence wrote duplicates', false);
  });

  it('fails without idempotence when the retried batches kept their order', () => {
    const ev = story({ idempotence: 'off', log: inOrderCopies }).evidence();
    const checks = expectVerdict(idempotentProducer, ev, 'fail', { idempotence: 'off' });
    expectCheck(checks, 'retries without idempotence wrote duplicates', true);
    expectCheck(checks, 'with 5 in flight, the retried batches landed out of order', false);
  });

  it('fails with idempotence when a record is in the log twice', () => {
    const checks = expectVerdict(idempotentProducer, story({ log: withDuplicates }).evidence(), 'fail');
    expectCheck(checks, 'idempotence: no record written twice', false);
    expectCheck(checks, "the log holds the producer's sequence in order", false);
  });

  it('fails with idempotence when the sequence is out of order, without duplicates', () => {
    const log = [...seq(40), 41, 40, ...seq(100).slice(42)];
    const checks = expectVerdict(idempotentProducer, story({ log }).evidence(), 'fail');
    expectCheck(checks, 'idempotence: no record written twice', true);
    expectCheck(checks, "the log holds the producer's sequence in order", false);
  });

  it('fails when an acknowledged record is missing from the final read', () => {
    const log = seq(100).filter((v) => v !== 60);
    const checks = expectVerdict(idempotentProducer, story({ log }).evidence(), 'fail');
    expectCheck(checks, 'no acknowledged record lost', false);
  });

  it('cannot tell when the leader kept no producer state for an idempotent producer', () => {
    expectVerdict(idempotentProducer, story({ producerIds: [] }).evidence(), 'unknown');
  });

  it('cannot tell when a non-idempotent producer had a producer id', () => {
    const ev = story({ idempotence: 'off', producerIds: [7], log: withDuplicates }).evidence();
    expectVerdict(idempotentProducer, ev, 'unknown', { idempotence: 'off' });
  });

  it('cannot tell when the producer never retried', () => {
    expectVerdict(idempotentProducer, story({ retries: 0 }).evidence(), 'unknown');
  });

  it('cannot tell without a final read', () => {
    expectVerdict(idempotentProducer, story({ noFinalRead: true }).evidence(), 'unknown');
  });

  it('counts extra copies, steps back and first copies out of order', () => {
    const f = logFindings(['0', '1', '2', '1', '2', '4', '3'], [0, 1, 2, 3, 4, 5]);
    expect(f).toMatchObject({ records: 7, distinct: 5, duplicates: 2, twice: [1, 2], lost: [5], stepsBack: 2 });
    expect(f.reordered).toBe(1);
  });

  it('reads the Java producer output and describe-producers', () => {
    const out = [
      'Option --producer.config has been deprecated',
      '{"timestamp":1,"name":"startup_complete"}',
      '{"timestamp":2,"name":"producer_send_success","key":null,"value":"0","topic":"idem","partition":0,"offset":0}',
      '{"timestamp":3,"name":"producer_send_error","key":null,"value":"1","topic":"idem","message":"Expiring 1 record(s)"}',
      '{"timestamp":4,"name":"tool_data","sent":2,"acked":1',
    ].join('\n');
    const warn =
      '[2026-11-30 06:00:00,000] WARN [Producer clientId=producer-1] Got error produce response with correlation ' +
      'id 52 on topic-partition idem-0, retrying (2147483646 attempts left). Error: REQUEST_TIMED_OUT';
    const r = parseProducerOutput(out, `${warn}\nsomething else`);
    expect(r).toMatchObject({ acked: [0], errors: [{ value: 1, message: 'Expiring 1 record(s)' }], retries: 1 });
    const table =
      'ProducerId\tProducerEpoch\tLatestCoordinatorEpoch\tLastSequence\tLastTimestamp\n1000\t0\t-1\t57\t17\n';
    expect(parseDescribeProducers(table)).toEqual([{ producerId: 1000, epoch: 0, lastSequence: 57 }]);
  });
});
