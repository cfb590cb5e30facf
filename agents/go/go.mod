module github.com/orionis-trace/orion-go

go 1.21

require github.com/klauspost/compress v1.17.11
