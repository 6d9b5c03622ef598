import type { LabContext } from '../../src/engine/lab.ts';
import type { StartedRabbitMQ } from '../../stacks/rabbitmq/stack.ts';

/** What a trainee can type during a step: the notes' own tools, run inside a node. */
export function rabbitmqctl(r: StartedRabbitMQ, node: string, args: string): string {
  return r.command(node, 'rabbitmqctl', args);
}

export function rabbitmqQueues(r: StartedRabbitMQ, node: string, args: string): string {
  return r.command(node, 'rabbitmq-queues', args);
}

export function listQueues(r: StartedRabbitMQ, node: string): string {
  return rabbitmqctl(r, node, 'list_queues name type durable messages');
}

/** The management API from the host, with this lab's credentials. */
export function apiCommand(r: StartedRabbitMQ, node: string, path: string): string {
  const { user, password } = r.credentials;
  return `curl -s -u ${user}:${password} ${r.managementUrl(node)}${path}`;
}

/** The web UI, for the curious (log in with the lab's user and password). */
export function webUi(r: StartedRabbitMQ, node: string): string {
  return `open ${r.managementUrl(node)}/ (user ${r.credentials.user}, password ${r.credentials.password})`;
}

/**
 * A clean shutdown (SIGTERM) with a grace period long enough for RabbitMQ (about 6.5 s
 * when idle, more on a busy machine), recorded in the fault ledger as a `stop`: the heal
 * phase starts the node again if the lab has not.
 */
export async function stopCleanly(lab: LabContext<StartedRabbitMQ, unknown>, node: string, graceS = 30) {
  const t0 = Date.now();
  await lab.stack.cluster.node(node).stop(graceS);
  lab.faults.note('stop', [node], `stopped ${node} (SIGTERM, clean shutdown)`);
  return Date.now() - t0;
}
