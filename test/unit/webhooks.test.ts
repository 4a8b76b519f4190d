import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../shared/tasks/store.js';
import { signWebhook } from '../../shared/webhooks.js';
import { nextEvent } from '../../worker/webhooks/events.js';
import { blockedReason } from '../../shared/ssrf.js';

const ch = (id: string, status: TaskEvent['status'], progress: number | null = null): TaskEvent => ({ id, status, changed: null, fields: [], progress, snapshot: null });

describe('webhook events from task changes', () => {
  it('starts with task.started when the task first runs', () => {
    const r = nextEvent([ch('1-0', 'queued'), ch('2-0', 'running', 0), ch('3-0', 'running', 40)], null, null);
    expect(r.event).toMatchObject({ type: 'task.started', entryId: '2-0' });
    expect(r.consumed?.id).toBe('2-0');
  });

  it('coalesces progress to the newest', () => {
    const r = nextEvent([ch('3-0', 'running', 40), ch('4-0', 'running', 60), ch('5-0', 'running', 80)], 'running', null);
    expect(r.event).toMatchObject({ type: 'task.progress', entryId: '5-0', progress: 80 });
  });

  it('drops pending progress once the final change is there', () => {
    const r = nextEvent([ch('3-0', 'running', 40), ch('4-0', 'running', 90), ch('5-0', 'succeeded', 100)], 'running', null);
    expect(r.event).toMatchObject({ type: 'task.succeeded', entryId: '5-0' });
  });

  it('keeps task.started before a final change', () => {
    const r = nextEvent([ch('2-0', 'running'), ch('3-0', 'failed')], 'queued', null);
    expect(r.event?.type).toBe('task.started');
  });

  it.each([
    ['canceled', 'task.canceled'],
    ['failed', 'task.failed'],
  ] as const)('reports %s as %s', (status, type) => {
    expect(nextEvent([ch('9-0', status)], 'queued', null).event?.type).toBe(type);
  });

  it('skips filtered types and moves the cursor past them', () => {
    const r = nextEvent([ch('2-0', 'running'), ch('3-0', 'running', 50)], 'queued', ['task.succeeded']);
    expect(r.event).toBeNull();
    expect(r.consumed?.id).toBe('3-0');
  });
});

describe('webhook address guard', () => {
  it.each(['127.0.0.1', '127.8.9.10', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.100.100.200', '0.0.0.0', '255.255.255.255', '224.0.0.1', '::1', '::', '::ffff:127.0.0.1', '::ffff:8.8.8.8', 'fe80::1', 'fd00:ec2::254', 'fc00::1', '64:ff9b::7f00:1'])('refuses %s', (addr) => {
    expect(blockedReason(addr)).not.toBeNull();
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2001:4860:4860::8888', '2606:4700::1111'])('allows %s', (addr) => {
    expect(blockedReason(addr)).toBeNull();
  });
});

describe('webhook signature', () => {
  it('is what the standardwebhooks library verifies', () => {
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const ts = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: 'task.succeeded', data: { id: 'x' } });
    const sig = signWebhook(secret, 'msg_1', ts, body);
    expect(sig).toMatch(/^v1,/);
    expect(new Webhook(secret).verify(body, { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': sig })).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body.replace('x', 'y'), { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': sig })).toThrow();
  });
});
