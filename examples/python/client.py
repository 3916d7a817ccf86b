"""A gRPC client of paperd in Python, from code that grpc_tools.protoc generates
out of the API's descriptor set (see the README's Consumers section). It imports
papers with a client stream, reads one back, lists them with a filter a page at a
time, and reads the reason (ErrorInfo) and field violations of a refused request.

    PYTHONPATH=gen python3 client.py localhost:9090 dev-admin-token
"""

import sys

import grpc
from google.rpc import error_details_pb2, status_pb2
from papers.catalog.v1 import catalog_pb2, catalog_service_pb2, catalog_service_pb2_grpc

CATEGORY = "consumers.python"
COUNT = 25


def import_requests():
    """Yields the stream of an import: three messages of at most 10 records."""
    batch = []
    for i in range(1, COUNT + 1):
        batch.append(
            catalog_service_pb2.ImportRecord(
                paper_id=f"2501.{i:05d}",
                paper=catalog_pb2.Paper(title=f"Python consumer paper {i}", categories=[CATEGORY]),
            )
        )
        if len(batch) == 10 or i == COUNT:
            yield catalog_service_pb2.ImportPapersRequest(records=batch)
            batch = []


def detail(err, message_type):
    """Returns the detail of type message_type (error_details_pb2.BadRequest,
    ErrorInfo, ...) in a gRPC error's status details, if any.

    The details travel as a google.rpc.Status in the grpc-status-details-bin
    trailer (what the grpcio-status package reads, where it is installed).
    """
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for any_detail in status_pb2.Status.FromString(value).details:
                if any_detail.Is(message_type.DESCRIPTOR):
                    msg = message_type()
                    any_detail.Unpack(msg)
                    return msg
    return None


def main(addr, admin_token):
    with grpc.insecure_channel(addr) as channel:
        client = catalog_service_pb2_grpc.CatalogServiceStub(channel)

        res = client.ImportPapers(
            import_requests(), metadata=[("authorization", f"Bearer {admin_token}")], timeout=60
        )
        if res.created + res.updated + res.unchanged != COUNT or res.rejected:
            sys.exit(f"import: {res}; want {COUNT} imported")
        print(f"import: {res.created} created, {res.unchanged} unchanged")

        paper = client.GetPaper(catalog_service_pb2.GetPaperRequest(name="papers/2501.00007"), timeout=10)
        if paper.title != "Python consumer paper 7":
            sys.exit(f"get: title {paper.title!r}")
        print(f'get: {paper.name} "{paper.title}", {paper.upvotes} upvotes')

        names, pages, token = set(), 0, ""
        while pages == 0 or token:
            page = client.ListPapers(
                catalog_service_pb2.ListPapersRequest(
                    filter=f'categories:"{CATEGORY}"', page_size=10, page_token=token
                ),
                timeout=10,
            )
            names.update(p.name for p in page.papers)
            token = page.next_page_token
            pages += 1
        if len(names) != COUNT or pages != 3:
            sys.exit(f"list: {len(names)} papers in {pages} pages, want {COUNT} in 3")
        print(f"list: {len(names)} papers in {pages} pages")

        try:
            client.ListPapers(catalog_service_pb2.ListPapersRequest(filter="bogus = 1"), timeout=10)
            sys.exit("a bad filter was accepted")
        except grpc.RpcError as err:
            br = detail(err, error_details_pb2.BadRequest)
            info = detail(err, error_details_pb2.ErrorInfo)
            if (
                err.code() != grpc.StatusCode.INVALID_ARGUMENT
                or not br
                or br.field_violations[0].field != "filter"
                or not info
                or info.reason != "INVALID_FILTER"
            ):
                sys.exit(
                    f"a bad filter: {err.code()} {err.details()}; want INVALID_ARGUMENT, reason INVALID_FILTER, "
                    "with a violation of field filter"
                )
            v = br.field_violations[0]
            print(f"error: {err.code().name}, reason {info.reason} ({info.domain}), field {v.field}: {v.description}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
