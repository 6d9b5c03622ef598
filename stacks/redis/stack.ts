import { UsageError } from '../../src/errors.ts';
import { crashable, type NodeSpec } from '../../src/runtime/node.ts';
import type { Stack } from '../../src/runtime/stack.ts';
import {
  CONF_DIR,
  MASTER_NAME,
  majority,
  REDIS_PORT,
  redisConf,
  SENTINEL_PORT,
  sentinelConf,
  settingsOf,
} from './config.ts';
import { layoutOf, type RedisParams, redisParams } from './params.ts';
import { StartedRedis } from './started.ts';

export const IMAGE = 'midlab/redis:latest';
export { layoutOf, MASTER_NAME, REDIS_PORT, type RedisParams, redisParams, SENTINEL_PORT, StartedRedis, settingsOf };

export const redis: Stack<typeof redisParams, StartedRedis> = {
  name: 'redis',
  summary:
    'Redis primary redis1 + replicas redis2.. (port 6379) and Sentinels sentinel1.. (port 26379) monitoring "mymaster"',
  params: redisParams,
  validate(p) {
    if (p.sentinels === 0 && p.quorum > 0) {
      throw new UsageError('a quorum needs Sentinels', 'use --param sentinels=3, or leave quorum at 0');
    }
    if (p.quorum > p.sentinels) {
      throw new UsageError(
        `a quorum of ${p.quorum} can never be reached by ${p.sentinels} Sentinel(s)`,
        `use --param quorum=${majority(p.sentinels)} (a majority), or more Sentinels`,
      );
    }
    if (p.minReplicasToWrite > p.replicas) {
      throw new UsageError(
        `min-replicas-to-write ${p.minReplicasToWrite} with ${p.replicas} replica(s) refuses every write`,
        `use --param minReplicasToWrite=${p.replicas} or fewer`,
      );
    }
    const warnings: string[] = [];
    if (p.sentinels === 1 || p.sentinels === 2) {
      warnings.push(
        `${p.sentinels} Sentinel(s) cannot reach a majority if one fails: a failover needs ${majority(p.sentinels)} ` +
          'Sentinels to authorise it; use 3',
      );
    } else if (p.sentinels > 2 && p.sentinels % 2 === 0) {
      warnings.push(
        `${p.sentinels} Sentinels tolerate ${Math.floor((p.sentinels - 1) / 2)} failure(s), no more than ` +
          `${p.sentinels - 1} would; use an odd number`,
      );
    }
    if (p.sentinels > 0 && p.replicas === 0) {
      warnings.push('Sentinels without replicas can notice the primary is down but have nothing to promote');
    }
    const quorum = p.quorum || majority(p.sentinels);
    if (p.sentinels > 0 && quorum < majority(p.sentinels)) {
      warnings.push(
        `quorum ${quorum} lets fewer than a majority declare the primary down, but a failover still needs ` +
          `${majority(p.sentinels)} Sentinels to vote for it`,
      );
    }
    return warnings;
  },
  nodes(p) {
    const layout = layoutOf(p);
    const data = layout.data.map(
      (name): NodeSpec => ({
        name,
        image: IMAGE,
        // crashable: `crash` kills redis-server alone and `start` runs it again in the same
        // container (a process restart, as a supervisor or the kubelet does).
        cmd: crashable(['redis-server', `${CONF_DIR}/redis.conf`]),
        ports: { redis: REDIS_PORT },
        files: [{ path: `${CONF_DIR}/redis.conf`, content: redisConf(layout, name) }],
        memoryMb: 128,
      }),
    );
    const sentinels = layout.sentinels.map(
      (name): NodeSpec => ({
        name,
        image: IMAGE,
        cmd: ['redis-sentinel', `${CONF_DIR}/sentinel.conf`],
        ports: { sentinel: SENTINEL_PORT },
        files: [{ path: `${CONF_DIR}/sentinel.conf`, content: sentinelConf(layout, name) }],
        memoryMb: 64,
      }),
    );
    return [...data, ...sentinels];
  },
  async connect(cluster, p) {
    const r = new StartedRedis(cluster, p);
    await r.waitHealthy();
    return r;
  },
};
