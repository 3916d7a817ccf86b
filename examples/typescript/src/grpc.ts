// grpc.ts: a gRPC client of paperd in TypeScript, from code that protobuf-es
// generates out of the API's descriptor set (npm run generate:grpc) and
// Connect's gRPC transport for Node.js. It imports papers with a client stream,
// reads one back, lists them with a filter a page at a time, and reads the field
// violations of a refused request.
//
//   node dist/grpc.js localhost:9090 dev-admin-token
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import {
  CatalogService,
  type ImportPapersRequest,
  ImportPapersRequestSchema,
} from "./gen/papers/catalog/v1/catalog_service_pb.js";

const [addr = "localhost:9090", adminToken = "dev-admin-token"] = process.argv.slice(2);
const category = "consumers.ts-grpc";
const count = 25;

const client = createClient(CatalogService, createGrpcTransport({ baseUrl: `http://${addr}` }));

function fail(message: string): never {
  throw new Error(message);
}

// A streamed import: three messages of at most 10 records.
async function* importRequests(): AsyncGenerator<ImportPapersRequest> {
  for (let first = 1; first <= count; first += 10) {
    const records = [];
    for (let i = first; i < first + 10 && i <= count; i++) {
      records.push({
        paperId: `2502.${String(i).padStart(5, "0")}`,
        paper: { title: `TypeScript gRPC consumer paper ${i}`, categories: [category] },
      });
    }
    yield create(ImportPapersRequestSchema, { records });
  }
}

const imported = await client.importPapers(importRequests(), {
  headers: { authorization: `Bearer ${adminToken}` },
});
// int64 fields are bigint in protobuf-es.
if (imported.created + imported.updated + imported.unchanged !== BigInt(count) || imported.rejected !== 0n) {
  fail(`import: ${imported.created} created, ${imported.rejected} rejected; want ${count} imported`);
}
console.log(`import: ${imported.created} created, ${imported.unchanged} unchanged`);

const paper = await client.getPaper({ name: "papers/2502.00007" });
if (paper.title !== "TypeScript gRPC consumer paper 7") fail(`get: title ${paper.title}`);
console.log(`get: ${paper.name} "${paper.title}", ${paper.upvotes} upvotes`);

const names = new Set<string>();
let pages = 0;
let pageToken = "";
do {
  const page = await client.listPapers({ filter: `categories:"${category}"`, pageSize: 10, pageToken });
  page.papers.forEach((p) => names.add(p.name));
  pageToken = page.nextPageToken;
  pages++;
} while (pageToken !== "");
if (names.size !== count || pages !== 3) fail(`list: ${names.size} papers in ${pages} pages, want ${count} in 3`);
console.log(`list: ${names.size} papers in ${pages} pages`);

try {
  await client.listPapers({ filter: "bogus = 1" });
  fail("a bad filter was accepted");
} catch (e) {
  const err = ConnectError.from(e);
  const [badRequest] = err.findDetails(BadRequestSchema);
  const [info] = err.findDetails(ErrorInfoSchema);
  const violation = badRequest?.fieldViolations[0];
  if (err.code !== Code.InvalidArgument || violation?.field !== "filter" || info?.reason !== "INVALID_FILTER") {
    fail(`a bad filter: ${err.message}; want INVALID_ARGUMENT, reason INVALID_FILTER, with a violation of field filter`);
  }
  console.log(`error: ${Code[err.code]}, reason ${info.reason} (${info.domain}), field ${violation.field}: ${violation.description}`);
}
