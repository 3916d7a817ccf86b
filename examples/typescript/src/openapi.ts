// openapi.ts: a REST client of paperd in TypeScript, typed by openapi-typescript
// from the OpenAPI 3 document (npm run generate:openapi, or from a running paperd:
// npx openapi-typescript http://localhost:8080/openapi.json -o src/gen/openapi.ts)
// and calling with openapi-fetch. It imports papers as newline-delimited JSON,
// reads one back, lists them with a filter a page at a time, and reads the field
// violations of a refused request.
//
//   node dist/openapi.js http://localhost:8080 dev-admin-token
import createClient from "openapi-fetch";
import type { components, paths } from "./gen/openapi.js";

type BadRequest = {
  field_violations?: { field?: string; description?: string }[];
};
type ErrorInfo = { reason?: string; domain?: string };

const [baseUrl = "http://localhost:8080", adminToken = "dev-admin-token"] = process.argv.slice(2);
const category = "consumers.ts-openapi";
const count = 25;

const client = createClient<paths>({ baseUrl });

function fail(message: string): never {
  throw new Error(message);
}

// The import takes newline-delimited JSON: one ImportPapersRequest a line. The
// body is typed as one such request; the serializer writes a line per record.
const records: components["schemas"]["ImportRecord"][] = [];
for (let i = 1; i <= count; i++) {
  records.push({
    paper_id: `2504.${String(i).padStart(5, "0")}`,
    paper: { title: `TypeScript OpenAPI consumer paper ${i}`, categories: [category] },
  });
}
const imported = await client.POST("/v1/papers:import", {
  body: { records },
  bodySerializer: (body) => (body.records ?? []).map((r) => JSON.stringify({ records: [r] })).join("\n") + "\n",
  headers: { "Content-Type": "application/x-ndjson", Authorization: `Bearer ${adminToken}` },
});
if (!imported.data) fail(`import: ${imported.response.status} ${JSON.stringify(imported.error)}`);
// int64 fields are strings in proto3 JSON; zero values are present.
const { created = "?", updated = "?", unchanged = "?", rejected = "?" } = imported.data;
if (Number(created) + Number(updated) + Number(unchanged) !== count || rejected !== "0") {
  fail(`import: ${JSON.stringify(imported.data)}; want ${count} imported`);
}
console.log(`import: ${created} created, ${unchanged} unchanged`);

const got = await client.GET("/v1/papers/{paper}", { params: { path: { paper: "2504.00007" } } });
if (got.data?.title !== "TypeScript OpenAPI consumer paper 7") fail(`get: ${got.response.status} ${JSON.stringify(got.error)}`);
console.log(`get: ${got.data.name} "${got.data.title}", ${got.data.upvotes} upvotes`);

const names = new Set<string>();
let pages = 0;
let pageToken = "";
do {
  const page = await client.GET("/v1/papers", {
    params: { query: { filter: `categories:"${category}"`, page_size: 10, page_token: pageToken } },
  });
  if (!page.data) fail(`list: ${page.response.status} ${JSON.stringify(page.error)}`);
  (page.data.papers ?? []).forEach((p) => names.add(p.name ?? ""));
  pageToken = page.data.next_page_token ?? "";
  pages++;
} while (pageToken !== "");
if (names.size !== count || pages !== 3) fail(`list: ${names.size} papers in ${pages} pages, want ${count} in 3`);
console.log(`list: ${names.size} papers in ${pages} pages`);

// Errors are google.rpc.Status bodies; every error carries a google.rpc.ErrorInfo
// (its reason) among its details, and a refused request a google.rpc.BadRequest.
const refused = await client.GET("/v1/papers", { params: { query: { filter: "bogus = 1" } } });
const badRequest = refused.error?.details?.find((d) => d["@type"] === "type.googleapis.com/google.rpc.BadRequest") as
  | BadRequest
  | undefined;
const info = refused.error?.details?.find((d) => d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo") as
  | ErrorInfo
  | undefined;
const violation = badRequest?.field_violations?.[0];
if (refused.response.status !== 400 || violation?.field !== "filter" || info?.reason !== "INVALID_FILTER") {
  fail(
    `a bad filter: ${refused.response.status} ${JSON.stringify(refused.error)}; want 400, reason INVALID_FILTER, with a violation of field filter`,
  );
}
console.log(
  `error: HTTP ${refused.response.status}, reason ${info.reason} (${info.domain}), field ${violation.field}: ${violation.description}`,
);
