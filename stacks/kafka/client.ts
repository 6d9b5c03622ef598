/**
 * The labs' Kafka client: @platformatic/kafka behind a small interface of ours, so that a
 * lab never depends on a client library's quirks, and every send and receive lands in
 * the History.
 *
 * Messages are identified: the value is JSON `{id, producer, seq}` (id = `<producer>-<seq>`).
 *
 *   send     invoke {id, producer, seq, topic, key?, acks}, then
 *            ok   {.., partition, offset}   acknowledged as asked by `acks`
 *                                           (acks=0: only handed to the socket!)
 *            fail                           certainly not written: every attempt was
 *                                           refused before an append (NOT_ENOUGH_REPLICAS,
 *                                           NOT_LEADER, connection refused, ...)
 *            info                           unknown: some attempt timed out, lost its
 *                                           connection, or got NOT_ENOUGH_REPLICAS_AFTER_APPEND
 *   receive  ok {id, key: '<topic>-<partition>', producer, seq, topic, partition, offset, group}
 *            (`key` is the ordering checker's key: Kafka orders within a partition)
 *   commit   ok / fail {group, offsets: {'<topic>-<partition>': next offset}}
 *
 * The consumer commits by itself (the client's own auto-commit is off): `commit: 'auto'`
 * commits what was processed every `autoCommitIntervalMs`, like the Java client's
 * enable.auto.commit (default 5000 ms); `'manual'` commits after each processed batch
 * (the messages fetched so far, at most `maxBatch`). `crash()` stops without committing.
 */

export { closeClientsOf } from './connection.ts';
export * from './consumer.ts';
export * from './errors.ts';
export * from './producer.ts';
