// An outside module using the generated client, as a consumer's would be. The
// replace points at this checkout; a consumer elsewhere drops it and requires a
// tagged version: go get github.com/papercatalog/papers/gen@v0.1.0
module example.com/goclient

go 1.25.0

require (
	github.com/papercatalog/papers/gen v0.0.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260803160001-6ac0973c030d
	google.golang.org/grpc v1.83.1
)

require (
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.40.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20260803160001-6ac0973c030d // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)

replace github.com/papercatalog/papers/gen => ../../gen
