// What a RabbitMQ lab imports: the engine's lab kit, the stack (admin, CLI readers, client,
// recorded workload), the labs' shared steps, pure checks and mirrored-queue helpers.
export * from '../../src/kit.ts';
export * from '../../stacks/rabbitmq/admin.ts';
export * from '../../stacks/rabbitmq/cli.ts';
export * from '../../stacks/rabbitmq/client.ts';
export { COOKIE_PATH } from '../../stacks/rabbitmq/config.ts';
export * from '../../stacks/rabbitmq/stack.ts';
export * from '../../stacks/rabbitmq/workload.ts';
export * from './checks.ts';
export * from './mirrors.ts';
export * from './steps.ts';
