import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, hubEndpointsFromEnv, hubSource } from './csp.ts';

function directives(policy: string): Map<string, string[]> {
  return new Map(policy.split('; ').map((directive) => {
    const [name, ...sources] = directive.split(' ');
    return [name!, sources];
  }));
}

describe("the studio's Content-Security-Policy", () => {
  it('allows scripts and workers only from the studio, with WebAssembly compilation, no code built from strings and no inline script', () => {
    const policy = directives(contentSecurityPolicy());
    expect(policy.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(policy.get('script-src')).not.toContain("'unsafe-eval'");
    expect(policy.get('worker-src')).toEqual(["'self'"]);
    expect(policy.get('default-src')).toEqual(["'self'"]);
    expect(policy.get('object-src')).toEqual(["'none'"]);
    expect(policy.get('script-src')).not.toContain("'unsafe-inline'");
  });

  it('connects only to the studio, the Hub and its download hosts, and a mirror on this machine', () => {
    expect(directives(contentSecurityPolicy()).get('connect-src')).toEqual(["'self'", 'https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co', 'http://127.0.0.1:*', 'http://localhost:*']);
  });

  it('adds the Hub endpoints a build is given, as origins', () => {
    const endpoints = hubEndpointsFromEnv(' https://hf-mirror.example.com/some/path, http://10.0.0.5:8080 ');
    expect(endpoints).toEqual(['https://hf-mirror.example.com/some/path', 'http://10.0.0.5:8080']);
    expect(directives(contentSecurityPolicy(endpoints)).get('connect-src')?.slice(-2)).toEqual(['https://hf-mirror.example.com', 'http://10.0.0.5:8080']);
    expect(hubSource('https://*.example.com')).toBe('https://*.example.com');
    expect(() => hubSource('ftp://example.com')).toThrow(/not an http\(s\) endpoint/);
    expect(() => hubSource('hf-mirror')).toThrow(/is not a URL/);
  });

  it('leaves frame-ancestors out of the <meta> policy, where browsers ignore it', () => {
    expect(directives(contentSecurityPolicy()).get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives(contentSecurityPolicy([], { forMeta: true })).has('frame-ancestors')).toBe(false);
  });
});
