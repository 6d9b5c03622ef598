import type { StartedRedis } from '../../stacks/redis/stack.ts';

/** redis-cli inside a node: what a trainee can type during a step. */
export function redisCli(r: StartedRedis, node: string, command: string): string {
  const port = r.isSentinel(node) ? 26379 : 6379;
  return `docker exec -it ${r.cluster.node(node).containerName} redis-cli -p ${port} ${command}`;
}

/** The same from the host, through the published port (Debian's redis-tools). */
export function hostCli(r: StartedRedis, node: string, command: string): string {
  const [host, port] = r.endpoint(node).split(':');
  return `redis-cli -h ${host} -p ${port} ${command}`;
}
