import type { StartedZooKeeper } from '../../stacks/zookeeper/stack.ts';

/** The notes' own client, run inside a node: what a trainee can type during a step. */
export function zkCli(zk: StartedZooKeeper, node: string, command: string): string {
  return `docker exec -it ${zk.cluster.node(node).containerName} zkCli.sh -server ${node}:2181 ${command}`;
}

/** `srvr` from inside a node (bash's /dev/tcp: the image has no nc). */
export function srvrCommand(zk: StartedZooKeeper, node: string): string {
  return `docker exec ${zk.cluster.node(node).containerName} bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181; echo srvr >&3; cat <&3'`;
}
