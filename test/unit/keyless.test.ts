import { describe, expect, it } from 'vitest';
import { defaultChannel } from '../../shared/channels/config.js';
import { isLoopbackUrl, keylessRemoteChannels } from '../../worker/channels/keyless.js';

describe('channels without a key', () => {
  it('knows the loopback hosts', () => {
    for (const url of ['http://127.0.0.1:8090', 'http://localhost:8090/v1', 'http://127.8.9.10', 'http://[::1]:8090', 'http://sim.localhost']) expect(isLoopbackUrl(url), url).toBe(true);
    for (const url of ['https://api.openai.com/v1', 'http://sim:8090', 'http://10.0.0.5', 'http://localhost.example.com', 'http://[::2]', 'not a url']) expect(isLoopbackUrl(url), url).toBe(false);
  });

  it('names the enabled remote channels whose key is empty', () => {
    const channels = [
      defaultChannel({ name: 'default-openai', type: 'openai', baseUrl: 'https://api.openai.com/v1', key: '' }),
      defaultChannel({ name: 'keyed', type: 'openai', baseUrl: 'https://api.openai.com/v1', key: 'sk-0123456789' }),
      defaultChannel({ name: 'simulator-mj', type: 'mj', baseUrl: 'http://127.0.0.1:8090', key: '' }),
      { ...defaultChannel({ name: 'off', type: 'mj', baseUrl: 'https://mj.example.com', key: '' }), enabled: false },
      defaultChannel({ name: 'default', type: 'mj', baseUrl: 'http://sim:8090', key: '' }),
    ];
    expect(keylessRemoteChannels(channels).map((c) => c.name)).toEqual(['default-openai', 'default']);
  });
});
