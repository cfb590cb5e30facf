module example.com/orionbench

go 1.22
