import { describe, expect, it } from 'vitest';
import { acceptsGzip, chooseFormat } from './negotiate.js';

describe('chooseFormat', () => {
  it('serves the Prometheus text format when the scraper says nothing or accepts anything', () => {
    expect(chooseFormat(undefined)).toBe('prometheus');
    expect(chooseFormat('')).toBe('prometheus');
    expect(chooseFormat('*/*')).toBe('prometheus');
    expect(chooseFormat('text/plain;version=0.0.4')).toBe('prometheus');
  });

  it('serves OpenMetrics to the Accept headers real Prometheus servers send', () => {
    // Prometheus 2.x
    expect(
      chooseFormat(
        'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      ),
    ).toBe('openmetrics');
    // Prometheus 3.x (protobuf first when native histograms are on; we do not speak it)
    expect(
      chooseFormat(
        'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
      ),
    ).toBe('openmetrics');
  });

  it('respects q-values', () => {
    expect(chooseFormat('text/plain;q=0.9, application/openmetrics-text;q=0.5')).toBe('prometheus');
    expect(chooseFormat('text/plain;q=0.5, Application/OpenMetrics-Text;q=0.9')).toBe('openmetrics');
    expect(chooseFormat('application/openmetrics-text;q=0')).toBe('prometheus');
    expect(chooseFormat('application/openmetrics-text;q=banana')).toBe('prometheus');
    expect(chooseFormat('application/openmetrics-text, */*')).toBe('openmetrics');
  });

  it('falls back to the text format for types it cannot serve', () => {
    expect(chooseFormat('application/json')).toBe('prometheus');
    expect(chooseFormat(',,,;;;===')).toBe('prometheus');
  });
});

describe('acceptsGzip', () => {
  it('compresses when gzip is accepted', () => {
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('deflate, gzip;q=0.5')).toBe(true);
    expect(acceptsGzip('x-gzip')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
  });

  it('does not compress when gzip is absent or refused', () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip('br, deflate')).toBe(false);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip;q=0, *')).toBe(false);
    expect(acceptsGzip('*;q=0')).toBe(false);
  });
});
