// The peer of the benchmark: graphql-compose-elasticsearch, as published, over one alias.
//
// Started by bench/peer.py:
//   node bench/peer/server.mjs
// with PEER_PORT, PEER_ALIAS and ELASTICSEARCH_URL (and ELASTICSEARCH_USERNAME and
// _PASSWORD, or _API_KEY) in the environment. Serves the peer's schema with graphql-http at
// /graphql on 127.0.0.1:PEER_PORT, and 200 at /healthz once the schema is built.
//
// What it takes to run the peer (5.2.3) on Elasticsearch 9, all of it here, none of it in
// node_modules:
// - the legacy `elasticsearch` 16.7.3 client, the peer's declared peer dependency (the newer
//   @elastic/elasticsearch 7.x client checks the product with GET /, which this
//   distribution answers 405);
// - its search() wrapped: Elasticsearch 9 refuses the mapping type the peer always passes,
//   and the peer reads the answer as the 7.x client shapes it, {body};
// - the date_histogram input extended with the parameters Elasticsearch 8+ takes instead of
//   `interval` (which it refuses).
import { readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";

import { createHandler } from "graphql-http/lib/use/http";

const require = createRequire(import.meta.url);
const elasticsearch = require("elasticsearch");
const { schemaComposer } = require("graphql-compose");
const { composeWithElastic } = require("graphql-compose-elasticsearch");

function setting(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`bench/peer/server.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const port = Number(setting("PEER_PORT"));
const alias = setting("PEER_ALIAS");

function legacyClient() {
  const url = new URL(setting("ELASTICSEARCH_URL"));
  const headers = {};
  if (process.env.ELASTICSEARCH_API_KEY) {
    headers.authorization = `ApiKey ${process.env.ELASTICSEARCH_API_KEY}`;
  }
  const host = {
    protocol: url.protocol.replace(":", ""),
    host: url.hostname,
    port: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
    path: url.pathname,
    headers,
  };
  if (process.env.ELASTICSEARCH_USERNAME) {
    host.auth = `${process.env.ELASTICSEARCH_USERNAME}:${process.env.ELASTICSEARCH_PASSWORD ?? ""}`;
  }
  if (url.protocol === "https:") {
    // The legacy client accepts any certificate unless told otherwise.
    const ca = process.env.ELASTICSEARCH_CA_CERTS;
    host.ssl = { rejectUnauthorized: true, ...(ca ? { ca: readFileSync(ca) } : {}) };
  }
  const seconds = Number(process.env.ELASTICSEARCH_REQUEST_TIMEOUT ?? "30");
  return new elasticsearch.Client({ host, log: "error", requestTimeout: seconds * 1000 });
}

const legacy = legacyClient();

// What the peer calls: search() only (the resolver exposed below).
const elasticClient = {
  async search({ type: _refusedByElasticsearch9, ...params }) {
    return { body: await legacy.search(params) };
  },
};

const mappings = await legacy.indices.getMapping({ index: alias });
// Every monthly index behind the alias has the same mapping (one template).
const [{ mappings: elasticMapping }] = Object.values(mappings);

const EventTC = composeWithElastic({
  graphqlTypeName: "Event",
  prefix: "Es",
  elasticIndex: alias,
  elasticType: "_doc",
  elasticMapping: { properties: elasticMapping.properties },
  elasticClient,
  schemaComposer,
});

const dateHistogram = EventTC.getResolver("search")
  .getArgITC("aggs")
  .getFieldITC("value")
  .getFieldITC("date_histogram");
dateHistogram.addFields({
  fixed_interval: "String",
  calendar_interval: "String",
  min_doc_count: "Int",
  extended_bounds: "JSON",
});

schemaComposer.Query.addFields({ events: EventTC.getResolver("search") });
const schema = schemaComposer.buildSchema();

const graphql = createHandler({ schema });
const server = http.createServer((request, response) => {
  if (request.url === "/healthz") {
    response.writeHead(200, { "content-type": "text/plain" }).end("ok");
  } else if (request.url === "/graphql") {
    graphql(request, response);
  } else {
    response.writeHead(404).end();
  }
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => {
  console.log(`peer: graphql-compose-elasticsearch over ${alias} at http://127.0.0.1:${port}/graphql`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
