import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { createJsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';

/**
 * Where a route schema keeps its request body example until the document is written: it is added
 * after the zod → JSON Schema step, as zod drops the metadata of a schema with transforms when it
 * writes its input side.
 */
const BODY_EXAMPLE = 'x-body-example';

/** The zod → JSON Schema step of the document, plus each route's request body example. */
function transformWithExamples(): ReturnType<typeof createJsonSchemaTransform> {
  const base = createJsonSchemaTransform({ skipList: UNDOCUMENTED });
  return (doc) => {
    const out = base(doc);
    const schema = out.schema as Record<string, unknown> | undefined;
    if (!schema || !(BODY_EXAMPLE in schema)) return out;
    const { [BODY_EXAMPLE]: example, body, ...rest } = schema;
    return { ...out, schema: body ? { ...rest, body: { ...(body as object), examples: [example] } } : rest };
  };
}

/** The documentation of one route: what `routeDoc` turns into a route `schema`. */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** Groups in the reference; a family's routes get the family's name. */
  tags?: string[];
  /** The zod schemas the handler parses with: documented as JSON Schema (their input side). */
  body?: z.ZodType;
  params?: z.ZodType;
  querystring?: z.ZodType;
  /** A request body to show (a valid one). */
  example?: unknown;
  /** Answers to show, by status: a description and an example body. */
  responses?: Record<number, { description: string; example?: unknown; contentType?: string }>;
  /** For routes that need no key. */
  open?: boolean;
  /** The request body's content type when it is not JSON (multipart forms). */
  consumes?: string[];
}

/**
 * A route `schema` for the OpenAPI document. The route's zod schemas are only documented here:
 * Fastify's own validation and serialization are switched off (registerOpenApi), and handlers
 * go on parsing with the same schemas, so every error keeps its family's envelope and wording.
 */
export function routeDoc(d: RouteDoc): FastifySchema {
  const schema: Record<string, unknown> = { summary: d.summary };
  if (d.description) schema.description = d.description;
  if (d.tags) schema.tags = d.tags;
  if (d.body) schema.body = d.body;
  if (d.body && d.example !== undefined) schema[BODY_EXAMPLE] = d.example;
  if (d.params) schema.params = d.params;
  if (d.querystring) schema.querystring = d.querystring;
  if (d.consumes) schema.consumes = d.consumes;
  if (d.open) schema.security = [];
  // Every route that needs a key can answer 401 (in its family's error format).
  const responses = d.open || !d.responses || d.responses[401] ? d.responses : { ...d.responses, 401: { description: 'No key, or a key this relayq does not know (the family\'s error format; x-should-retry: false).' } };
  if (responses) {
    schema.response = Object.fromEntries(
      Object.entries(responses).map(([status, r]) => {
        const body = z.unknown().meta({ description: r.description, ...(r.example === undefined ? {} : { examples: [r.example] }) });
        return [status, r.contentType ? { description: r.description, content: { [r.contentType]: { schema: body } } } : body];
      }),
    );
  }
  return schema as FastifySchema;
}

/** Routes the reference leaves out: the interactive reference's own pages and assets, and the CORS preflight answer (`OPTIONS *`). */
export const UNDOCUMENTED = ['*', '/docs', '/docs/', '/docs/json', '/docs/yaml', '/docs/static/*', '/docs/static/index.html', '/docs/static/swagger-initializer.js', '/openapi.json'];

/**
 * OpenAPI 3.1 at `GET /openapi.json`, generated from the route schemas (routeDoc), and the
 * interactive reference at `/docs`. Must be registered before any route: it collects them as
 * they are added.
 *
 * Fastify's validator and serializer compilers are replaced by pass-throughs: route schemas are
 * documentation only. Handlers validate with their family's zod schemas and answer in their
 * family's error format; a response schema must not reshape or strip what a handler sends.
 */
export async function registerOpenApi(app: FastifyInstance, info: { version: string }) {
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'relayq',
        version: info.version,
        description:
          'Asynchronous job relay for AI model APIs: Midjourney-proxy, OpenAI, Anthropic, Suno, Luma and video-compatible routes. Every route except the open ones needs a key: `Authorization: Bearer <key>`, `Authorization: <key>`, `mj-api-secret: <key>` or `x-api-key: <key>`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'A tenant key (API_KEYS) or an admin key (ADMIN_KEYS).' },
          mjApiSecret: { type: 'apiKey', in: 'header', name: 'mj-api-secret', description: 'The same key, as Midjourney-proxy clients send it.' },
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The same key, as the Anthropic SDKs send it.' },
        },
      },
      security: [{ bearer: [] }, { mjApiSecret: [] }, { apiKey: [] }],
    },
    transform: transformWithExamples(),
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true }, staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
