import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { API_METRICS } from '../../api/metrics.js';
import { SHARED_METRICS } from '../../shared/metrics.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** Every metric relayq exposes on /metrics. */
const KNOWN = new Set<string>([...Object.values(API_METRICS), ...Object.values(SHARED_METRICS).map((m) => m.name)]);

describe('the monitoring set-up (deploy/ and the compose monitoring profile)', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, any>; volumes: Record<string, unknown> };

  it('runs Prometheus and Grafana only under the monitoring profile, with files that exist', () => {
    expect(parseDocument(read('docker-compose.yml')).errors).toEqual([]);
    for (const name of ['prometheus', 'grafana']) {
      const service = compose.services[name];
      expect(service.profiles, name).toEqual(['monitoring']);
      for (const volume of service.volumes as string[]) {
        const [source] = volume.split(':') as [string];
        if (source.startsWith('./')) expect(existsSync(join(ROOT, source)), source).toBe(true);
        else expect(compose.volumes, source).toHaveProperty(source);
      }
    }
    // The default `docker compose up` starts neither.
    const unprofiled = Object.entries(compose.services).filter(([, s]) => !s.profiles).map(([n]) => n);
    expect(unprofiled).not.toContain('prometheus');
    expect(unprofiled).not.toContain('grafana');
  });

  it('pins every image it pulls to a version (a `latest` would change under the user)', () => {
    const pulled = Object.entries(compose.services)
      .map(([name, service]) => [name, String(service.image ?? '')] as const)
      .filter(([, image]) => image && !image.startsWith('relayq:'));
    expect(pulled.length).toBeGreaterThanOrEqual(4);
    for (const [name, image] of pulled) expect(image, name).toMatch(/:(?!latest$)[\w.-]+$/);
  });

  it('scrapes /metrics with a Bearer key from the file the compose service writes', () => {
    const prom = parse(read('deploy/prometheus.yml')) as { scrape_configs: any[] };
    const job = prom.scrape_configs.find((j) => j.job_name === 'relayq-api');
    expect(job).toMatchObject({ metrics_path: '/metrics', authorization: { type: 'Bearer' } });
    expect(compose.services.prometheus.entrypoint.join(' ')).toContain(job.authorization.credentials_file);
    expect(job.dns_sd_configs[0]).toMatchObject({ names: ['api'], port: 8080 });
  });

  it('has a dashboard whose queries read only metrics relayq exposes, from the provisioned data source', () => {
    const dash = JSON.parse(read('deploy/grafana/relayq.json')) as { uid: string; panels: { type: string; datasource?: { uid: string }; targets?: { expr: string }[] }[] };
    const ds = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { uid: string }[] };
    const exprs = dash.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set(exprs.flatMap((e) => e.match(/relayq_[a-z_]+/g) ?? []).map((n) => (KNOWN.has(n) ? n : n.replace(/_(bucket|count|sum)$/, ''))));
    expect([...used].filter((n) => !KNOWN.has(n))).toEqual([]);
    // Every metric is on the dashboard.
    expect([...KNOWN].filter((n) => !used.has(n))).toEqual([]);
    for (const p of dash.panels.filter((x) => x.type !== 'row')) expect(p.datasource?.uid).toBe(ds.datasources[0]!.uid);
  });
});
