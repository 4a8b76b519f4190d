import type { BenchContext } from './figure.js';
export async function profileSubmit(ctx: BenchContext): Promise<void> {
  ctx.say('profile: not yet');
}
