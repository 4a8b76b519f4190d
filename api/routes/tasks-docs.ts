import type { z } from 'zod';
import { TASK_KINDS, TASK_QUEUES } from '../../shared/families/catalog.js';
import { routeDoc } from '../openapi.js';

/** Examples built from the catalog: the core names no family. */
const ID = `${TASK_QUEUES[0]}_XUWFiIUhErKQX2y7Kp1H`;
const BASE = `https://relay.example.com/v1/tasks/${ID}`;
const task = {
  id: ID,
  object: 'task',
  kind: TASK_KINDS[0],
  status: 'succeeded',
  progress: 100,
  queue_position: null,
  created_at: 1796042759023,
  started_at: 1796042759060,
  completed_at: 1796042759083,
  attempts: 1,
  output: {},
  error: null,
  metadata: {},
  urls: { get: BASE, cancel: `${BASE}/cancel`, events: `${BASE}/events`, content: `${BASE}/content` },
};
const notFound = { description: 'No such task for this key (another tenant\'s tasks are not found either).', example: { error: { message: `task not found: ${ID}`, type: 'not_found_error', param: null, code: 'not_found_error' } } };

/** The OpenAPI documentation of the generic task routes. */
export function taskDocs(schemas: { params: z.ZodType; listQuery: z.ZodType }) {
  const { params } = schemas;
  return {
    list: routeDoc({
      tags: ['tasks'],
      summary: 'List tasks',
      description: 'This tenant\'s tasks of every family, newest first; filter by `status` and `kind`, page with `after`.',
      querystring: schemas.listQuery,
      responses: { 200: { description: 'A page of tasks.', example: { object: 'list', data: [task], first_id: ID, last_id: ID, has_more: false } } },
    }),
    get: routeDoc({ tags: ['tasks'], summary: 'Fetch a task', description: 'Any family\'s task, in the generic form; `queue_position` while queued.', params, responses: { 200: { description: 'The task.', example: task }, 404: notFound } }),
    cancel: routeDoc({ tags: ['tasks'], summary: 'Cancel a task', params, responses: { 200: { description: 'The canceled task.', example: { ...task, status: 'canceled', output: null } }, 404: notFound, 409: { description: 'The task already finished.' } } }),
    content: routeDoc({ tags: ['tasks'], summary: 'Task result bytes', description: 'The stored result (its own content type), or a 302 to the upstream URL that holds it.', params, responses: { 200: { description: 'The result.' }, 302: { description: 'The result lives at the upstream.' }, 404: notFound } }),
    events: routeDoc({
      tags: ['tasks'],
      summary: 'Task events (SSE)',
      description: 'Server-sent events: every change of the task, then the final one; `Last-Event-ID` resumes.',
      params,
      responses: { 200: { description: 'text/event-stream', example: `event: task.succeeded\nid: 1796042759083-0\ndata: {"id":"${ID}","status":"succeeded"}\n\n` } },
    }),
    deliveries: routeDoc({
      tags: ['tasks'],
      summary: 'Webhook deliveries',
      description: 'Every delivery attempt of the task\'s webhook.',
      params,
      responses: {
        200: {
          description: 'The attempts.',
          example: { object: 'list', webhook: { url: 'https://example.com/hooks', events: null }, data: [{ webhook_id: 'msg_2ZqW', event: 'task.succeeded', attempt: 1, at: 1796042759090, url: 'https://example.com/hooks', status: 200, error: null, next_retry_at: null }] },
        },
        404: notFound,
      },
    }),
    secret: routeDoc({ tags: ['tasks'], summary: 'Webhook signing secret', description: 'This tenant\'s Standard Webhooks secret.', responses: { 200: { description: 'The secret.', example: { key: 'whsec_x5r9HoM65dIEQ/wEqzdt40GXwh74gv4p' } } } }),
  };
}
