// Checks real answers against the OpenAPI document: the status is documented for the route, the
// documented headers are there and valid (and no undocumented one is), the body fits the schema
// of its media type; requests use documented parameters and valid bodies. Mismatches are
// collected, not thrown, so one run lists them all.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { Validator } from '@seriousme/openapi-schema-validator';

const DOC_ID = 'https://forkrun.invalid/openapi.json';
// Headers any HTTP answer may carry; CORS headers are checked against x-cors instead.
const TRANSPORT = new Set(['content-type', 'content-length', 'connection', 'keep-alive', 'date']);
// Request headers that are HTTP's or the security scheme's, not operation parameters.
const REQUEST_TRANSPORT = new Set([
  'host',
  'authorization',
  'content-type',
  'content-length',
  'connection',
  'origin',
  'accept',
  'user-agent',
  'transfer-encoding',
  'expect',
  'access-control-request-method',
  'access-control-request-headers',
]);

/** The problems of the document itself, checked against the OpenAPI 3.1 schema. */
export async function documentProblems(doc) {
  const result = await new Validator().validate(doc);
  return result.valid ? [] : [].concat(result.errors).map((e) => JSON.stringify(e));
}

const essence = (type) => (type ?? '').split(';')[0].trim().toLowerCase();

// A copy of `schema` whose local $refs point into the document registered as DOC_ID.
function absolute(schema) {
  if (Array.isArray(schema)) return schema.map(absolute);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#') ? DOC_ID + v : absolute(v),
    ]),
  );
}

/** Server-Sent Events of a body: [{id, event, data}] and the comment lines. */
export function parseEvents(body) {
  const events = [];
  let comments = 0;
  for (const block of body.split('\n\n')) {
    const e = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments += 1;
      else if (line.startsWith('id: ')) e.id = line.slice(4);
      else if (line.startsWith('event: ')) e.event = line.slice(7);
      else if (line.startsWith('data: '))
        e.data = (e.data === undefined ? '' : `${e.data}\n`) + line.slice(6);
    }
    if (e.event !== undefined || e.data !== undefined) events.push(e);
  }
  return { events, comments };
}

export class Contract {
  constructor(doc) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    addFormats(this.ajv);
    this.ajv.addKeyword({ keyword: 'components' });
    this.ajv.addSchema({ $id: DOC_ID, components: doc.components });
    this.validators = new Map();
    this.mismatches = [];
    this.covered = new Set();
    this.checked = 0;
    this.routes = Object.keys(doc.paths).map((key) => ({
      key,
      re: new RegExp(`^${key.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
  }

  resolve(obj) {
    let o = obj;
    while (o && o.$ref) {
      o = o.$ref
        .slice(2)
        .split('/')
        .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce((at, part) => at?.[part], this.doc);
      if (!o) throw new Error(`unresolvable $ref ${obj.$ref}`);
    }
    return o;
  }

  // The schema's problems with `value` (empty when it fits).
  validate(schema, value) {
    let v = this.validators.get(schema);
    if (!v) {
      try {
        v = this.ajv.compile(absolute(schema));
      } catch (e) {
        v = () => false;
        v.errors = [{ instancePath: '', message: `the schema does not compile: ${e.message}` }];
      }
      this.validators.set(schema, v);
    }
    if (v(value)) return [];
    return v.errors
      .slice(0, 6)
      .map(
        (e) =>
          `${e.instancePath || '/'} ${e.message}` +
          (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''),
      );
  }

  // A header or query value (a string) as the JSON type its schema declares.
  coerce(schema, text) {
    const s = this.resolve(schema);
    const types = [].concat(s.type ?? []);
    if (
      (types.includes('integer') || types.includes('number')) &&
      /^-?[0-9]+(\.[0-9]+)?$/.test(text)
    )
      return Number(text);
    if (types.includes('boolean') && (text === 'true' || text === 'false')) return text === 'true';
    return text;
  }

  /** Every documented answer, by the key coverage is counted under. */
  responseKeys() {
    const keys = new Set(['x-unknown-route', 'x-cors preflight', 'x-cors preflightRefused']);
    for (const item of Object.values(this.doc.paths)) {
      keys.add(this.keyOf(item['x-method-not-allowed']));
      for (const m of ['get', 'post']) {
        for (const [status, r] of Object.entries(item[m]?.responses ?? {})) {
          keys.add(this.keyOf(r, `${item[m].operationId} ${status}`));
        }
      }
    }
    return keys;
  }

  keyOf(response, inline) {
    return response.$ref ? response.$ref.split('/').pop() : inline;
  }

  /**
   * Checks one exchange: {label, method, path, reqHeaders, reqBody, status, headers, body,
   * cors: the server's CORS origins}. Request header names are lower case.
   */
  check(x) {
    const errors = [];
    const url = new URL(x.path, 'http://server');
    const route = this.routes.find((r) => r.re.test(url.pathname));
    const origin = x.reqHeaders.origin;
    const cors = x.cors ?? [];
    let response;
    let expected;
    let key;
    let allow;
    if (
      x.method === 'OPTIONS' &&
      origin &&
      x.reqHeaders['access-control-request-method'] &&
      cors.length
    ) {
      const spec = this.doc['x-cors'];
      if (cors.includes(origin)) {
        this.covered.add('x-cors preflight');
        if (x.status !== spec.preflight.status) errors.push(`a preflight answered ${x.status}`);
        this.checkHeaders(spec.preflight.headers, x, errors, origin);
        if (x.body.length) errors.push('a preflight answer has a body');
        return this.record(x, errors);
      }
      [response, expected, key] = [
        spec.preflightRefused.response,
        spec.preflightRefused.status,
        'x-cors preflightRefused',
      ];
    } else if (!route) {
      [response, expected, key] = [this.doc['x-unknown-route'], 404, 'x-unknown-route'];
    } else {
      const item = this.doc.paths[route.key];
      const op = item[x.method.toLowerCase()];
      if (!op) {
        response = item['x-method-not-allowed'];
        expected = 405;
        allow = ['get', 'post', 'put', 'patch', 'delete']
          .filter((m) => item[m])
          .map((m) => m.toUpperCase())
          .join(', ');
      } else {
        response = op.responses[String(x.status)];
        if (!response) {
          errors.push(`status ${x.status} is not documented for ${x.method} ${route.key}`);
          return this.record(x, errors);
        }
        key = this.keyOf(response, `${op.operationId} ${x.status}`);
        this.checkRequest(
          [...(item.parameters ?? []), ...(op.parameters ?? [])],
          op,
          url,
          x,
          errors,
        );
      }
    }
    if (expected !== undefined && x.status !== expected) {
      errors.push(`answered ${x.status} where the document says ${expected}`);
    }
    this.covered.add(key ?? this.keyOf(response));
    this.checkResponse(this.resolve(response), x, errors, cors);
    if (allow !== undefined && x.headers.allow !== allow) {
      errors.push(`Allow is ${JSON.stringify(x.headers.allow)}, the path's methods are ${allow}`);
    }
    return this.record(x, errors);
  }

  record(x, errors) {
    this.checked += 1;
    for (const e of errors)
      this.mismatches.push(`${x.label} (${x.method} ${x.path.split('?')[0]} -> ${x.status}): ${e}`);
    return errors;
  }

  checkHeaders(documented, x, errors, origin) {
    for (const [name, h0] of Object.entries(documented ?? {})) {
      const h = this.resolve(h0);
      const value = x.headers[name.toLowerCase()];
      if (value === undefined) {
        if (h.required) errors.push(`header ${name} is missing`);
        continue;
      }
      if (name === 'Access-Control-Allow-Origin' && value !== origin) {
        errors.push(`Access-Control-Allow-Origin is ${value}, not the request's origin ${origin}`);
      }
      if (h.schema) {
        for (const e of this.validate(h.schema, this.coerce(h.schema, value)))
          errors.push(`header ${name}: ${e}`);
      }
    }
  }

  checkResponse(r, x, errors, cors) {
    const origin = x.reqHeaders.origin;
    this.checkHeaders(r.headers, x, errors, origin);
    const allowed = cors.includes(origin);
    if (allowed) this.checkHeaders(this.doc['x-cors'].allowedOrigin.headers, x, errors, origin);
    if (cors.length && x.headers.vary !== 'Origin')
      errors.push(`Vary is ${x.headers.vary}, not Origin, while CORS is on`);
    const known = new Set(Object.keys(r.headers ?? {}).map((n) => n.toLowerCase()));
    for (const name of Object.keys(x.headers)) {
      const corsHeader = name.startsWith('access-control-') || name === 'vary';
      if (corsHeader ? !allowed && name !== 'vary' : !TRANSPORT.has(name) && !known.has(name)) {
        errors.push(`header ${name} is not documented for this answer`);
      }
      if (name === 'vary' && !cors.length) errors.push('Vary is sent while CORS is off');
    }
    if (!r.content) {
      if (x.body.length) errors.push(`a body (${x.body.length} bytes) where none is documented`);
      return;
    }
    const type = essence(x.headers['content-type']);
    const mediaKey = Object.keys(r.content).find((k) => essence(k) === type);
    if (!mediaKey) {
      errors.push(
        `Content-Type ${x.headers['content-type']} is not one of ${Object.keys(r.content)}`,
      );
      return;
    }
    const media = r.content[mediaKey];
    if (type === 'application/json') {
      let json;
      try {
        json = JSON.parse(x.body);
      } catch {
        errors.push(`the body is not JSON: ${x.body.slice(0, 120)}`);
        return;
      }
      x.json = json;
      for (const e of this.validate(media.schema, json)) errors.push(`body ${e}`);
      if (
        json &&
        typeof json === 'object' &&
        'requestId' in json &&
        json.requestId !== x.headers['x-request-id']
      ) {
        errors.push(
          `requestId ${json.requestId} differs from X-Request-Id ${x.headers['x-request-id']}`,
        );
      }
    } else if (type === 'text/event-stream') {
      this.checkEvents(media['x-forkrun-events'], x, errors);
    } else {
      for (const e of this.validate(media.schema, x.body)) errors.push(`body ${e}`);
      for (const metric of media['x-forkrun-metrics'] ?? []) {
        if (!x.body.includes(`# TYPE ${metric} `)) errors.push(`metric ${metric} is missing`);
      }
    }
  }

  checkEvents(kinds, x, errors) {
    const { events } = parseEvents(x.body);
    x.events = events;
    let previous;
    for (const e of events) {
      const schema = kinds[e.event];
      if (!schema) {
        errors.push(`event type ${e.event} is not documented`);
        continue;
      }
      if (!/^[0-9]+$/.test(e.id ?? '')) errors.push(`event ${e.event} has id ${e.id}`);
      const id = Number(e.id);
      // A snapshot carries the latest id and the end of an ended run follows it with that id.
      if (
        previous !== undefined &&
        id !== previous + 1 &&
        !(e.event === 'end' && id === previous)
      ) {
        errors.push(`event id ${id} after ${previous}: ids count with no gaps`);
      }
      previous = id;
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        errors.push(`event ${e.id} (${e.event}): data is not one line of JSON`);
        continue;
      }
      e.json = data;
      for (const problem of this.validate(schema, data))
        errors.push(`event ${e.id} (${e.event}): ${problem}`);
    }
  }

  checkRequest(parameters, op, url, x, errors) {
    const params = parameters.map((p) => this.resolve(p));
    const ok = x.status < 400;
    for (const [name, value] of url.searchParams) {
      const p = params.find((q) => q.in === 'query' && q.name === name);
      if (!p) {
        if (!x.undocumentedQuery) errors.push(`query parameter ${name} is not documented`);
      } else if (ok) {
        for (const e of this.validate(p.schema, this.coerce(p.schema, value)))
          errors.push(`query ${name}: ${e}`);
      }
    }
    for (const [name, value] of Object.entries(x.reqHeaders)) {
      if (REQUEST_TRANSPORT.has(name)) continue;
      const p = params.find((q) => q.in === 'header' && q.name.toLowerCase() === name);
      if (!p) errors.push(`request header ${name} is not documented`);
      else if (ok)
        for (const e of this.validate(p.schema, this.coerce(p.schema, value)))
          errors.push(`header ${name}: ${e}`);
    }
    const body = x.reqBody ?? '';
    if (!ok) return;
    if (!body.length) {
      if (op.requestBody?.required) errors.push('succeeded without the required body');
      return;
    }
    const media =
      op.requestBody &&
      Object.entries(op.requestBody.content).find(
        ([k]) => essence(k) === essence(x.reqHeaders['content-type']),
      );
    if (!media) {
      errors.push(`a request body of type ${x.reqHeaders['content-type']} is not documented`);
      return;
    }
    for (const e of this.validate(media[1].schema, JSON.parse(body)))
      errors.push(`request body ${e}`);
  }
}
