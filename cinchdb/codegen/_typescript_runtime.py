"""The schema-independent part of the generated TypeScript client: JSON values on the wire,
BLOBs as ``{"$base64": ...}``, the root error class, and one ``fetch`` per call with the
headers the server reads. Only the standard ``fetch``, ``Headers``, ``URLSearchParams``,
``btoa`` and ``atob`` are used (Node 18+, Deno, Bun and browsers have them), so the client
has no runtime dependency.
"""

from __future__ import annotations

RUNTIME = """\
/** A JSON value as it travels. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** A column value: what SQLite stores (BLOBs as Uint8Array, BOOLEAN as boolean). */
export type Value = string | number | boolean | null | Uint8Array;

/** A row as a query returns it: column name -> value. */
export type Row = { readonly [column: string]: Value };

/** What the key-value store holds: JSON values and bytes. */
export type KvValue =
  | string
  | number
  | boolean
  | null
  | Uint8Array
  | readonly KvValue[]
  | { readonly [key: string]: KvValue };

/** One page of a table's rows in key order; pass `next` as `after` for the following one. */
export interface Page<R> {
  readonly rows: R[];
  readonly next: string | null;
}

/** Where the client connects and as whom. */
export interface ClientOptions {
  /** The server's base URL, such as `http://127.0.0.1:8000`. */
  readonly url: string;
  /** An API key (`ck_<id>_<secret>`), sent only as `Authorization: Bearer`. */
  readonly apiKey: string;
  readonly database?: string;
  /** A branch name as you write it (`feature/x`); the path carries it as `feature~x`. */
  readonly branch?: string;
  readonly tenant?: string;
  /** An encrypted tenant's key, sent in `X-Cinch-Tenant-Key` (HTTPS or loopback only). */
  readonly tenantKey?: string;
  /** A `fetch` to use instead of the global one. */
  readonly fetch?: typeof fetch;
}

/** Options of a schema change: compare-and-swap on the branch head, or checks only. */
export interface ChangeOptions {
  /** The branch head the change was made against (`If-Match`); 412 when it moved. */
  readonly ifMatch?: string;
  /** Run only the checks (`?dry_run=true`). */
  readonly dryRun?: boolean;
}

function base64Encode(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

function base64Decode(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function isObject(value: unknown): value is { readonly [key: string]: unknown } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value as it travels: bytes become `{"$base64": ...}`, the rest is JSON already. */
export function toWire(value: KvValue | undefined): JsonValue {
  if (value === undefined) return null;
  if (value instanceof Uint8Array) return { $base64: base64Encode(value) };
  if (Array.isArray(value)) return value.map((item: KvValue) => toWire(item));
  if (isObject(value)) {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) out[key] = toWire(item as KvValue);
    }
    return out;
  }
  return value as JsonValue;
}

/** A value as the server sent it: `{"$base64": ...}` becomes bytes again. */
export function fromWire(value: JsonValue): KvValue {
  if (Array.isArray(value)) return value.map((item: JsonValue) => fromWire(item));
  if (isObject(value)) {
    const keys = Object.keys(value);
    const encoded = value["$base64"];
    if (keys.length === 1 && typeof encoded === "string") return base64Decode(encoded);
    const out: { [key: string]: KvValue } = {};
    for (const [key, item] of Object.entries(value)) out[key] = fromWire(item as JsonValue);
    return out;
  }
  return value as KvValue;
}

/** A row as the server sent it, BLOBs as bytes. */
export function rowFromWire(value: JsonValue): Row {
  if (!isObject(value)) {
    throw new CinchError(`Expected a row from the server, got ${JSON.stringify(value)}`);
  }
  return fromWire(value) as Row;
}

/**
 * Root of every error the server reports. `code` is the stable code of the server's error class
 * (`table_not_found`), `status` the HTTP status, and `details` the error's structured data.
 */
export class CinchError extends Error {
  static readonly code: string = "cinch";
  readonly code: string;
  readonly status: number;
  readonly details: { readonly [key: string]: JsonValue };

  constructor(
    message: string,
    code: string = "cinch",
    status: number = 0,
    details: { readonly [key: string]: JsonValue } = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

function encodeSegment(value: string): string {
  return encodeURIComponent(value);
}

/** One HTTP call of the API: the path's prefix, the headers, the error decoding. */
export class Transport {
  readonly url: string;
  readonly database: string;
  readonly branch: string;
  readonly tenant: string;
  /** The branch head the last response reported (`X-Cinch-Head`), or null before any. */
  head: string | null = null;
  private readonly apiKey: string;
  private readonly tenantKey: string | undefined;
  private readonly fetcher: typeof fetch;
  private readonly errors: { readonly [code: string]: typeof CinchError };

  constructor(options: ClientOptions, errors: { readonly [code: string]: typeof CinchError }) {
    this.url = options.url.replace(/\\/+$/, "");
    this.apiKey = options.apiKey;
    this.database = options.database ?? "main";
    this.branch = options.branch ?? "main";
    this.tenant = options.tenant ?? "main";
    this.tenantKey = options.tenantKey;
    this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
    this.errors = errors;
  }

  /** The path template with the handle's names and `params` filled in, each encoded. */
  path(template: string, params: { readonly [name: string]: string }): string {
    return template.replace(/\\{(\\w+)\\}/g, (_whole: string, name: string) => {
      if (name === "database") return encodeSegment(this.database);
      if (name === "branch") return encodeSegment(this.branch.replaceAll("/", "~"));
      if (name === "tenant") return encodeSegment(this.tenant);
      const value = params[name];
      if (value === undefined) throw new CinchError(`Missing path parameter '${name}'`);
      return encodeSegment(value);
    });
  }

  async call(
    method: string,
    path: string,
    query: { readonly [name: string]: JsonValue | undefined },
    body: { readonly [name: string]: JsonValue | undefined } | null,
    headers: { readonly [name: string]: string } = {},
  ): Promise<JsonValue> {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined || value === null) continue;
      search.set(name, typeof value === "string" ? value : JSON.stringify(value));
    }
    const sent = new Headers(headers);
    sent.set("Authorization", `Bearer ${this.apiKey}`);
    sent.set("Accept", "application/json");
    if (this.tenantKey !== undefined) sent.set("X-Cinch-Tenant-Key", this.tenantKey);
    let payload: string | undefined;
    if (body !== null) {
      const present: { [name: string]: JsonValue } = {};
      for (const [name, value] of Object.entries(body)) {
        if (value !== undefined) present[name] = value;
      }
      payload = JSON.stringify(present);
      sent.set("Content-Type", "application/json");
    }
    const query_ = search.toString();
    const init: RequestInit = { method, headers: sent };
    if (payload !== undefined) init.body = payload;
    const response = await this.fetcher(this.url + path + (query_ ? `?${query_}` : ""), init);
    const head = response.headers.get("X-Cinch-Head");
    if (head !== null) this.head = head;
    const text = await response.text();
    let parsed: JsonValue = null;
    if (text !== "") {
      try {
        parsed = JSON.parse(text) as JsonValue;
      } catch {
        if (response.ok) {
          const shown = text.slice(0, 200);
          throw new CinchError(`The server sent a body that is not JSON: ${shown}`);
        }
      }
    }
    if (response.ok) return parsed;
    throw this.error(response.status, parsed, text);
  }

  private error(status: number, parsed: JsonValue, text: string): CinchError {
    const error = isObject(parsed) ? parsed["error"] : undefined;
    if (isObject(error)) {
      const { code, message, details } = error;
      if (typeof code === "string" && typeof message === "string") {
        const cls = this.errors[code] ?? CinchError;
        const data = isObject(details) ? (details as { readonly [key: string]: JsonValue }) : {};
        return new cls(message, code, status, data);
      }
    }
    return new CinchError(`HTTP ${status} from the server: ${text.slice(0, 200)}`, "cinch", status);
  }
}
"""
