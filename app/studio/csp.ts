/**
 * The studio's Content-Security-Policy. Scripts and workers come only from the studio's own origin,
 * plus WebAssembly compilation ('wasm-unsafe-eval'), which ONNX Runtime's wasm backend needs for
 * "Verify engine"; no inline script runs and no code is built from strings (the recipe's validator is
 * compiled ahead of time: app/train/recipe-validator-code.ts). Connections go only to the studio's origin and
 * the Hub endpoints the build allows: the Hugging Face Hub (huggingface.co, whose downloads redirect to
 * its CDN hosts under huggingface.co and hf.co) and a mirror on this machine (loopback, any port).
 * Another endpoint (a company mirror) is added at build time with COCKTAIL_HUB_ENDPOINTS. Styles may
 * be inline (charts set style attributes); images may be data: and blob: URLs (downloads, previews).
 *
 * The build puts the policy in index.html's <meta>, which governs the page; workers take theirs from
 * their response's header, which `vite preview` sends (vite.config.ts) and any other host should too.
 */

/** The Hub and its download hosts, and a Hub mirror or test server on this machine. */
export const DEFAULT_HUB_SOURCES = ['https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co', 'http://127.0.0.1:*', 'http://localhost:*'] as const;

/** A CSP source expression for a Hub endpoint: its origin (scheme, host, port), or a host wildcard as given. */
export function hubSource(endpoint: string): string {
  if (/^https?:\/\/\*\.[A-Za-z0-9.-]+(:(\d+|\*))?$/.test(endpoint) || /^https?:\/\/[A-Za-z0-9.-]+:\*$/.test(endpoint)) return endpoint;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`COCKTAIL_HUB_ENDPOINTS: "${endpoint}" is not a URL such as https://hf-mirror.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`COCKTAIL_HUB_ENDPOINTS: "${endpoint}" is not an http(s) endpoint`);
  return url.origin;
}

/**
 * The policy's text. `forMeta` leaves out what a <meta> policy cannot carry (frame-ancestors, which
 * browsers ignore there with a console error).
 */
export function contentSecurityPolicy(extraHubEndpoints: readonly string[] = [], options: { forMeta?: boolean } = {}): string {
  const hubs = [...new Set([...DEFAULT_HUB_SOURCES, ...extraHubEndpoints.map(hubSource)])];
  const directives: [string, ...string[]][] = [
    ['default-src', "'self'"],
    ['script-src', "'self'", "'wasm-unsafe-eval'"],
    ['worker-src', "'self'"],
    ['connect-src', "'self'", ...hubs],
    ['style-src', "'self'", "'unsafe-inline'"],
    ['img-src', "'self'", 'data:', 'blob:'],
    ['font-src', "'self'"],
    ['manifest-src', "'self'"],
    ['object-src', "'none'"],
    ['base-uri', "'self'"],
    ['form-action', "'self'"],
    ...(options.forMeta ? [] : [['frame-ancestors', "'none'"] as [string, ...string[]]]),
  ];
  return directives.map((directive) => directive.join(' ')).join('; ');
}

/** COCKTAIL_HUB_ENDPOINTS: extra Hub endpoints, separated by spaces or commas. */
export function hubEndpointsFromEnv(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter((item) => item !== '');
}
