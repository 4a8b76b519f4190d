import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChannelFileError, readChannelFile, servesModel } from '../../shared/channels/config.js';
import { loadConfig } from '../../shared/config.js';

const dir = mkdtempSync(join(tmpdir(), 'relayq-channels-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const problems = (path: string, env: Record<string, string> = {}) => {
  try {
    readChannelFile(path, env);
  } catch (err) {
    if (err instanceof ChannelFileError) return err.problems;
    throw err;
  }
  return [];
};

describe('UPSTREAMS_FILE', () => {
  it('reads YAML with environment references and the defaults of every field', () => {
    const path = file(
      'ok.yaml',
      `channels:
  - name: mj-a
    type: mj
    baseUrl: https://mj-a.example.com/
    key: \${MJ_KEY_A}
    priority: 10
    concurrency: 3
  - name: oa
    type: openai
    baseUrl: https://api.example.com/v1
    key: "sk-\${OA_SUFFIX}"
    models: [gpt-4o, "gpt-4o-mini*"]
    kinds: [chat.completion]
    weight: 2.5
    rpm: 60
    timeoutSeconds: 120
    enabled: false
`,
    );
    const [a, b] = readChannelFile(path, { MJ_KEY_A: 'secret-a', OA_SUFFIX: 'xyz' });
    expect(a).toEqual({
      name: 'mj-a', type: 'mj', baseUrl: 'https://mj-a.example.com', key: 'secret-a', models: null, kinds: null,
      priority: 10, weight: 1, concurrency: 3, rpm: null, timeoutSeconds: null, enabled: true,
    });
    expect(b).toMatchObject({ key: 'sk-xyz', models: ['gpt-4o', 'gpt-4o-mini*'], kinds: ['chat.completion'], weight: 2.5, rpm: 60, timeoutSeconds: 120, enabled: false });
    expect(servesModel(b!, 'gpt-4o-mini-2024-07-18')).toBe(true);
    expect(servesModel(b!, 'gpt-4o-2024')).toBe(false);
  });

  it('reads JSON the same way', () => {
    const path = file('ok.json', JSON.stringify({ channels: [{ name: 'x', type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' }] }));
    expect(readChannelFile(path, {})).toMatchObject([{ name: 'x', key: '', priority: 0, weight: 1, enabled: true }]);
  });

  it('lists every mistake, each with where it is', () => {
    const path = file(
      'bad.yaml',
      `channels:
  - name: a
    type: midjourney
    baseUrl: ftp://x
  - name: b
    type: openai
    baseUrl: http://x/v1
    rpm: -1
    concurrency: 2.5
    priorty: 3
  - name: b
    type: openai
    baseUrl: http://y/v1
    key: \${NOT_SET}
  - nope
`,
    );
    expect(problems(path).sort()).toEqual([
      'channels[0].type: must be one of mj, openai, suno, luma, anthropic',
      'channels[0].baseUrl: must be an http(s) URL',
      'channels[1]: unknown field priorty',
      'channels[1].concurrency: must be a positive integer',
      'channels[1].rpm: must be a positive integer',
      'channels[2].name: "b" is used by another channel',
      'channels[2].key: environment variable NOT_SET is not set',
      'channels[3]: must be an object',
    ].sort());
  });

  it.each([
    ['missing.yaml', null, /^cannot read it \(ENOENT\)$/],
    ['syntax.json', '{"channels": [', /^is not valid JSON: /],
    ['syntax.yaml', 'channels: [a, b', /^is not valid YAML: /],
    ['top.yaml', 'upstreams: []', /^channels: is required \(the file is \{ channels: \[ \.\.\. \] \}\); file: unknown top-level field upstreams/],
  ])('says what is wrong with %s as a whole', (name, text, message) => {
    const path = text === null ? join(dir, name) : file(name, text);
    expect(problems(path).join('; ')).toMatch(message);
  });

  it('is a one-channel shorthand when only the single-upstream variables are set, and wins over them when set', () => {
    const env = { MJ_UPSTREAM_URL: 'http://mj.example.com/', MJ_UPSTREAM_SECRET: 's1', OPENAI_UPSTREAM_URL: 'http://oa.example.com/v1', OPENAI_UPSTREAM_KEY: 'k1' };
    expect(loadConfig(env).channels.map((c) => [c.name, c.type, c.baseUrl, c.key])).toEqual([
      ['default', 'mj', 'http://mj.example.com', 's1'],
      ['default-openai', 'openai', 'http://oa.example.com/v1', 'k1'],
    ]);
    const path = file('wins.json', JSON.stringify({ channels: [{ name: 'only', type: 'openai', baseUrl: 'http://z/v1' }] }));
    expect(loadConfig({ ...env, UPSTREAMS_FILE: path }).channels.map((c) => c.name)).toEqual(['only']);
  });
});
