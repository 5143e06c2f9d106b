// Runs graphql-http's server audits (the GraphQL over HTTP spec's MUST, SHOULD and MAY
// checks) against the URL given and prints one JSON array, one {id, name, status, reason}
// per audit, for tests/api/test_graphql_http.py to assert on.
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node tests/browser/graphql_http_audit.mjs http://127.0.0.1:PORT/graphql");
  process.exit(2);
}
try {
  const results = await auditServer({ url });
  const rows = results.map(({ id, name, status, reason }) => ({
    id,
    name,
    status,
    reason: reason ?? null,
  }));
  console.log(JSON.stringify(rows));
} catch (error) {
  console.error(`graphql_http_audit.mjs: ${error.stack ?? error}`);
  process.exitCode = 1;
}
